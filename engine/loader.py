"""`engine.load`: turn a Hugging Face model folder into a ready `Model`.

Reads config.json, the tokenizer and generation_config.json, checks the weight files'
tensor names and shapes against the architecture before reading any data, builds the
network on the meta device and fills it one tensor at a time (so peak memory stays near
the size of the loaded model). Quantized precisions are handed to quantize.py tensor by
tensor. It does not generate or sample.
"""
from __future__ import annotations

import gc
import math
import os
from pathlib import Path

import torch
from torch import nn

from .checkpoint import TensorEntry, fingerprint, iter_tensors, read_json, tensor_index, weight_files
from .config import ModelConfig, rope_inverse_frequencies
from .devices import FLOAT_DTYPES, QUANTIZED, resolve_device, resolve_precision
from .errors import ModelFormatError, OutOfMemoryError, is_out_of_memory
from .model import Transformer
from .runtime import Model
from .tokenizer import Tokenizer
from .types import ModelInfo

ASSETS_MODELS = Path(__file__).resolve().parent.parent / "assets" / "models"
DEFAULT_MODEL_NAME = "bard-mini"
IGNORED_CHECKPOINT_TENSORS = ("rotary_emb.inv_freq",)  # old checkpoints saved this buffer; it is recomputed


def default_model_path() -> Path:
    """The bundled model (or $GLASSLM_MODEL)."""
    override = os.environ.get("GLASSLM_MODEL")
    if override:
        return Path(override).expanduser()
    preferred = ASSETS_MODELS / DEFAULT_MODEL_NAME
    if (preferred / "config.json").exists():
        return preferred
    found = sorted(p.parent for p in ASSETS_MODELS.glob("*/config.json"))
    return found[0] if found else preferred


def load(path=None, device: str = "auto", precision: str = "auto", decode: str = "auto", **quant_options) -> Model:
    """Load a model folder. device: auto|cpu|cuda[:N]; precision: auto|fp32|bf16|fp16|int8|nf4|fp4.

    quant_options (int8/nf4/fp4): int8_threshold=6.0, double_quant=False, compute_dtype=None,
    blocksize=64, quantize_lm_head=False (untied lm_head only). decode: auto|eager|static|compiled (auto: compiled
    on CUDA, where torch.compile captures the step as a CUDA graph; eager on the CPU).
    """
    folder = Path(path).expanduser() if path is not None else default_model_path()
    if not folder.exists():
        raise ModelFormatError(f"{folder} does not exist; choose a model folder (one holding config.json)")
    if not folder.is_dir():
        raise ModelFormatError(f"{folder} is a file; choose the model's folder (the one holding config.json)")
    config_path = folder / "config.json"
    raw_config = read_json(config_path, "config.json")
    config = ModelConfig.from_dict(raw_config)
    generation_config = _optional_json(folder / "generation_config.json")
    eos_extra = list(config.eos_token_ids) + _as_list(generation_config.get("eos_token_id"))
    tokenizer = Tokenizer.from_folder(folder, eos_extra=eos_extra)
    entries = tensor_index(weight_files(folder))
    target = resolve_device(device)
    chosen = resolve_precision(precision, target)

    with torch.device("meta"):
        network = Transformer(config)
    quant = raw_config.get("quantization_config")
    expected = _expected_shapes(network)
    if quant:
        from . import prequantized

        chosen = prequantized.stored_precision_for(quant, entries, expected, (precision or "auto").strip().lower())
    else:
        _check_names_and_shapes(entries, expected, config, folder)
    try:
        if chosen in QUANTIZED or quant:
            from . import quantize

            compute_dtype = quantize.compute_dtype(target, quant_options.get("compute_dtype"))
            quantize.load_quantized(network, entries, chosen, target, compute_dtype, quant_options,
                                    prequantized_config=quant)
        else:
            compute_dtype = FLOAT_DTYPES[chosen]
            _load_float(network, entries, compute_dtype, target)
        network.inv_freq = rope_inverse_frequencies(config).to(target)
        network.fuse_projections()
    except (torch.OutOfMemoryError, MemoryError, RuntimeError) as err:
        if not is_out_of_memory(err):
            raise
        network = None  # drop every tensor placed so far before reporting
        gc.collect()
        if target.type == "cuda":
            torch.cuda.empty_cache()
        raise OutOfMemoryError(_oom_message(entries, target)) from None
    network.eval()
    info = ModelInfo(
        path=str(folder.resolve()),
        model_type=config.model_type,
        n_params=_count_params(entries, config),
        context_length=config.max_position_embeddings,
        vocab_size=config.vocab_size,
        n_layers=config.num_hidden_layers,
        n_heads=config.num_attention_heads,
        n_kv_heads=config.num_key_value_heads,
        precision=chosen,
        device=str(target),
        fingerprint=fingerprint(folder, config_path.read_text(encoding="utf-8"), entries),
        name=folder.name,
    )
    model = Model(network, tokenizer, info, target, compute_dtype, generation_config)
    model.set_decode_mode(decode if decode != "auto" else ("compiled" if target.type == "cuda" else "eager"))
    return model


def _optional_json(path: Path) -> dict:
    return read_json(path, path.name) if path.exists() else {}


def _as_list(value) -> list[int]:
    if value is None:
        return []
    return [value] if isinstance(value, int) else list(value)


def _expected_shapes(network: Transformer) -> dict[str, tuple[int, ...]]:
    return {name: tuple(p.shape) for name, p in network.named_parameters()}


def _check_names_and_shapes(entries: dict[str, TensorEntry], expected: dict, config: ModelConfig, folder: Path):
    present = {n for n in entries if not n.endswith(IGNORED_CHECKPOINT_TENSORS)}
    if config.tie_word_embeddings:
        present.discard("lm_head.weight")  # some tied checkpoints store a copy; the embedding is used
    missing = sorted(set(expected) - present)
    unexpected = sorted(present - set(expected))
    if missing:
        raise ModelFormatError(
            f"{folder} is missing tensor {missing[0]}" + (f" (and {len(missing) - 1} more)" if len(missing) > 1 else "")
            + f" that a {config.model_type} model with this config.json needs; the weights and config do not match"
        )
    if unexpected:
        raise ModelFormatError(
            f"{folder} has unexpected tensor {unexpected[0]}"
            + (f" (and {len(unexpected) - 1} more)" if len(unexpected) > 1 else "")
            + f" that a {config.model_type} model with this config.json does not have; the weights and config do not match"
        )
    for name, shape in expected.items():
        if entries[name].shape != shape:
            raise ModelFormatError(
                f"tensor {name} has shape {list(entries[name].shape)} but config.json implies {list(shape)}; "
                "the weights and config.json do not belong together"
            )


def place(network: nn.Module, name: str, value: torch.Tensor | nn.Parameter):
    module_name, _, attr = name.rpartition(".")
    module = network.get_submodule(module_name)
    setattr(module, attr, value if isinstance(value, nn.Parameter) else nn.Parameter(value, requires_grad=False))


def _load_float(network: Transformer, entries: dict[str, TensorEntry], dtype: torch.dtype, device: torch.device):
    wanted = set(_expected_shapes(network))
    for name, tensor in iter_tensors([e for n, e in entries.items() if n in wanted]):
        place(network, name, tensor.to(device=device, dtype=dtype))


def _count_params(entries: dict[str, TensorEntry], config: ModelConfig) -> int:
    total = 0
    for name, entry in entries.items():
        if name.endswith(IGNORED_CHECKPOINT_TENSORS) or (config.tie_word_embeddings and name == "lm_head.weight"):
            continue
        if not name.endswith((".weight", ".bias")):
            continue  # quantization companions (absmax, SCB, ...)
        packed = entry.dtype == "U8" and "proj" in name  # 4-bit weights pack two values per byte
        total += math.prod(entry.shape) * (2 if packed else 1)
    return total


def _oom_message(entries: dict[str, TensorEntry], device: torch.device) -> str:
    params = sum(math.prod(e.shape) for e in entries.values())
    sizes = ", ".join(f"{p} ~{params * b / 2**30:.1f} GiB" for p, b in
                      (("fp32", 4), ("bf16", 2), ("int8", 1.1), ("nf4", 0.6)))
    return (f"the model did not fit in {device} memory (estimated weights: {sizes}); "
            "choose a smaller precision, another device, or free memory used by other programs")

