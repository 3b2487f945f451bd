"""Reader for GGUF files (llama.cpp's format, which LM Studio, Ollama and GPT4All keep models in).

Reads the file with the `gguf` package (llama.cpp's own reader, memory-mapped): metadata to a
config (gguf_config.py) and a tokenizer (gguf_tokenizer.py), tensor names mapped to the
engine's through gguf_tables.TENSOR_NAMES, and each tensor dequantized on demand with gguf's own
dequantization, one at a time, so peak memory stays near the loaded model's size. llama.cpp's
converter permutes the q/k rows of `llama` models for its rotary layout, and adds 1 to Gemma's
norm gains; both are undone here. Phi-3's LongRoPE factors, stored as tensors, go into the config.
Quantized blocks are also offered raw (`read_packed`) for kernels that compute on them.
It builds no network.
"""
from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import numpy as np
import torch

from ..errors import ModelFormatError, UnsupportedModelError
from .gguf_config import config_dict
from .gguf_tables import (ARCHITECTURE_TENSOR_NAMES, ARCHITECTURES, NORM_PLUS_ONE, ROPE_FACTOR_TENSORS,
                          TENSOR_NAMES, TENSOR_TYPES)
from .gguf_tokenizer import build_tokenizer
from .source import ModelSource, TensorSpec

GGUF_MAGIC = b"GGUF"
PERMUTED_ARCHITECTURES = ("llama",)  # converted with q/k rows interleaved for llama.cpp's rotary
ROPE_FREQS = "rope_freqs.weight"  # llama3-style per-pair frequency divisors, written by the converter


def is_gguf(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            return handle.read(4) == GGUF_MAGIC
    except OSError:
        return False


def open_gguf(path: Path) -> ModelSource:
    from ..formats.hf_folder import config_from_dict

    reader = _open_reader(path)
    metadata = _metadata(reader)
    where = str(path)
    arch = metadata.get("general.architecture")
    if arch not in ARCHITECTURES:
        raise UnsupportedModelError(f"{where} holds a {arch!r} model; glasslm reads GGUF architectures "
                                    f"{', '.join(ARCHITECTURES)}")
    model_type = ARCHITECTURES[arch]
    by_engine_name: dict[str, object] = {}
    rope_freqs = None
    rope_factors = {}  # LongRoPE's short/long factor lists
    for tensor in reader.tensors:
        kind = tensor.tensor_type.name
        if kind not in TENSOR_TYPES:
            raise UnsupportedModelError(f"tensor {tensor.name} in {where} is of type {kind}, which glasslm cannot "
                                        f"read; supported types: {', '.join(TENSOR_TYPES)}")
        if tensor.name == ROPE_FREQS:
            rope_freqs = tensor
            continue
        if tensor.name in ROPE_FACTOR_TENSORS:
            rope_factors[ROPE_FACTOR_TENSORS[tensor.name]] = _dequantized(tensor, None, where).reshape(-1).tolist()
            continue
        by_engine_name[engine_name(tensor.name, arch)] = tensor
    embedding = by_engine_name.get("model.embed_tokens.weight")
    if embedding is None:
        raise ModelFormatError(f"{where} has no token_embd.weight tensor; the file is incomplete")
    vocab_rows = int(embedding.shape[1]) if len(embedding.shape) == 2 else 0
    raw = config_dict(metadata, arch, model_type, set(by_engine_name), vocab_rows, where, rope_factors)
    config = config_from_dict(raw, f"{where} (its metadata)")
    tokenizer = build_tokenizer(metadata, where, eos_extra=config.eos_token_ids)
    permute = {}
    if arch in PERMUTED_ARCHITECTURES:
        for i in range(config.num_hidden_layers):
            for proj, heads in (("q_proj", config.num_attention_heads), ("k_proj", config.num_key_value_heads)):
                for part in ("weight", "bias"):
                    permute[f"model.layers.{i}.self_attn.{proj}.{part}"] = heads
    tensors = {name: TensorSpec(name, _logical_shape(t), t.tensor_type.name) for name, t in by_engine_name.items()}

    def read(names):
        for name in names:
            tensor = by_engine_name.get(name)
            if tensor is not None:
                values = _dequantized(tensor, permute.get(name), where)
                if arch in NORM_PLUS_ONE and name.endswith("norm.weight"):
                    values = values - 1  # exact: the stored gains lie near 1
                yield name, values

    def read_blocks(name):
        tensor = by_engine_name[name]
        blocks = np.asarray(tensor.data)  # (rows, bytes per row), memory-mapped
        if permute.get(name):
            blocks = unpermute_rows(torch.from_numpy(np.array(blocks)), permute[name]).numpy()  # a copy: the map is read-only
        return tensor.tensor_type.name, blocks

    inv_freq = None
    if rope_freqs is not None:
        from ..config import rope_inverse_frequencies

        divisors = _dequantized(rope_freqs, None, where).float().reshape(-1)  # (D/2,)
        base = rope_inverse_frequencies(config)  # (D/2,)
        if divisors.shape != base.shape:
            raise ModelFormatError(f"{where} has rope_freqs of {divisors.numel()} values for {base.numel()} "
                                   "rotary pairs; the file is corrupt")
        inv_freq = base / divisors
    weight_types = Counter(t.tensor_type.name for t in by_engine_name.values() if len(t.shape) == 2)
    return ModelSource(
        path=path, format="gguf", config=config, tokenizer=tokenizer, tensors=tensors, read_tensors=read,
        fingerprint=_fingerprint(path, metadata, reader), n_params=sum(int(np.prod(t.shape)) for t in reader.tensors),
        name=path.stem, generation_config=_generation_defaults(metadata), inv_freq=inv_freq, read_blocks=read_blocks,
        stored_types=tuple(kind for kind, _ in weight_types.most_common()),
    )


SAMPLING_KEYS = {  # newer converters store generation_config.json's defaults under general.sampling.*
    "general.sampling.temp": "temperature", "general.sampling.top_k": "top_k", "general.sampling.top_p": "top_p",
    "general.sampling.min_p": "min_p", "general.sampling.penalty_repeat": "repetition_penalty",
}


def _generation_defaults(metadata: dict) -> dict:
    """generation_config.json-style defaults from the file's sampling metadata."""
    found = {name: metadata[key] for key, name in SAMPLING_KEYS.items()
             if isinstance(metadata.get(key), (int, float)) and not isinstance(metadata.get(key), bool)}
    if found.get("temperature", 0) > 0:
        found["do_sample"] = True
    return found


def engine_name(gguf_name: str, arch: str = "llama") -> str:
    """`blk.3.attn_q.weight` -> `model.layers.3.self_attn.q_proj.weight` (with the architecture's own
    meanings first, see ARCHITECTURE_TENSOR_NAMES); unknown names stay as they are."""
    names = {**TENSOR_NAMES, **ARCHITECTURE_TENSOR_NAMES.get(arch, {})}
    parts = gguf_name.split(".")
    if len(parts) > 2 and parts[0] == "blk" and parts[1].isdigit():
        pattern = "blk.{i}." + ".".join(parts[2:])
        target = names.get(pattern)
        return target.format(i=parts[1]) if target else gguf_name
    return names.get(gguf_name, gguf_name)


def _open_reader(path: Path):
    from gguf import GGUFReader

    if not is_gguf(path):
        raise ModelFormatError(f"{path} is not a GGUF file (it does not start with 'GGUF'); "
                               "choose a .gguf model file or a Hugging Face model folder")
    try:
        reader = GGUFReader(str(path), "r")
    except (ValueError, IndexError, KeyError, OverflowError, MemoryError, UnicodeDecodeError, TypeError) as err:
        raise ModelFormatError(f"{path} is truncated or corrupt ({type(err).__name__}: {err}); "
                               "download it again") from None
    version = reader.fields.get("GGUF.version")
    if version is not None and int(version.parts[-1][0]) not in (2, 3):
        raise UnsupportedModelError(f"{path} is GGUF version {int(version.parts[-1][0])}; glasslm reads versions 2 and 3")
    size = path.stat().st_size
    for tensor in reader.tensors:
        if tensor.data_offset + tensor.n_bytes > size or tensor.data.nbytes != tensor.n_bytes:
            raise ModelFormatError(f"{path} is truncated: tensor {tensor.name} ends past the end of the file; "
                                   "the download was probably interrupted, download it again")
    return reader


def _metadata(reader) -> dict:
    values = {}
    for key, field in reader.fields.items():
        try:
            values[key] = field.contents()
        except (ValueError, IndexError, UnicodeDecodeError):
            continue  # an unreadable field the engine does not need; needed ones are checked where used
    return values


def _logical_shape(tensor) -> tuple[int, ...]:
    return tuple(int(d) for d in reversed(tensor.shape.tolist()))  # GGUF lists dimensions fastest first


def _dequantized(tensor, permute_heads: int | None, where: str) -> torch.Tensor:
    from gguf.quants import dequantize

    try:
        values = dequantize(tensor.data, tensor.tensor_type)
    except (ValueError, NotImplementedError) as err:
        raise ModelFormatError(f"tensor {tensor.name} in {where} could not be dequantized ({err})") from None
    shape = _logical_shape(tensor)
    values = np.ascontiguousarray(values)
    if not values.flags.writeable:  # an unquantized tensor comes back as a view of the read-only map
        values = values.copy()
    result = torch.from_numpy(values).reshape(shape)  # (out, in) or (n,)
    if not torch.isfinite(result).all():
        raise ModelFormatError(f"tensor {tensor.name} in {where} holds NaN or infinite values; the file is corrupt, "
                               "download it again")
    if permute_heads:
        result = unpermute_rows(result, permute_heads)
    return result


def unpermute_rows(rows: torch.Tensor, heads: int) -> torch.Tensor:
    """Undo convert_hf_to_gguf's q/k permutation: within each head, llama.cpp stores the rotary pairs
    interleaved (x0, x_half, x1, x_half+1, ...) where Hugging Face stores two halves."""
    out = rows.shape[0]
    head_dim = out // heads
    rest = rows.shape[1:]
    return rows.reshape(heads, head_dim // 2, 2, *rest).transpose(1, 2).reshape(out, *rest)  # (out, ...)


def _fingerprint(path: Path, metadata: dict, reader) -> str:
    digest = hashlib.sha256()
    for key in sorted(metadata):
        value = metadata[key]
        if isinstance(value, list) and len(value) > 64:
            value = (len(value), value[:8], value[-8:])
        digest.update(f"{key}={value!r}".encode())
    for tensor in reader.tensors:
        digest.update(f"{tensor.name}|{tensor.tensor_type.name}|{tensor.shape.tolist()}".encode())
    digest.update(str(path.stat().st_size).encode())
    return digest.hexdigest()[:16]
