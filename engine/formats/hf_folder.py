"""Reader for a Hugging Face model folder: config.json, the tokenizer files, generation_config.json
and safetensors weights (single or sharded; plain or saved pre-quantized by bitsandbytes).

Produces a `ModelSource`; the safetensors bytes themselves are read by engine/checkpoint.py
one tensor at a time. Pickle weights are refused (see checkpoint.weight_files). It builds no network.
"""
from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

from ..checkpoint import TensorEntry, fingerprint, iter_tensors, read_json, tensor_index, weight_files
from ..config import ModelConfig
from ..errors import EngineError, ModelFormatError
from ..hf_names import to_engine_names
from ..tokenizer import Tokenizer
from .source import ModelSource, TensorSpec

IGNORED_CHECKPOINT_TENSORS = ("rotary_emb.inv_freq",)  # old checkpoints saved this buffer; it is recomputed


def open_folder(folder: Path) -> ModelSource:
    config_path = folder / "config.json"
    raw_config = read_json(config_path, "config.json")
    config = config_from_dict(raw_config, "config.json")
    generation_config = optional_json(folder / "generation_config.json")
    eos_extra = list(config.eos_token_ids) + as_id_list(generation_config.get("eos_token_id"))
    tokenizer = Tokenizer.from_folder(folder, eos_extra=eos_extra)
    entries = tensor_index(weight_files(folder))
    tensors = {name: TensorSpec(name, e.shape, e.dtype) for name, e in entries.items()
               if not name.endswith(IGNORED_CHECKPOINT_TENSORS)}
    if config.tie_word_embeddings:
        tensors.pop("lm_head.weight", None)  # some tied checkpoints store a copy; the embedding is used
    quant = raw_config.get("quantization_config")
    if quant is not None and not isinstance(quant, dict):
        raise ModelFormatError(f"{config_path} has a quantization_config that is not an object; re-download the model")
    by_name = {name: entries[name] for name in tensors}
    if quant:  # companions (absmax, SCB, ...) are read alongside the weights they belong to
        by_name = {name: e for name, e in entries.items() if not name.endswith(IGNORED_CHECKPOINT_TENSORS)}
        tensors = {name: TensorSpec(name, e.shape, e.dtype) for name, e in by_name.items()}

    def read(names):
        return iter_tensors([by_name[n] for n in names if n in by_name])

    weights = Counter(e.dtype for e in entries.values() if len(e.shape) == 2)
    return to_engine_names(ModelSource(  # GPT-2's names and transposed Conv1D weights: see hf_names.py
        path=folder, format="bitsandbytes" if quant else "safetensors", config=config, tokenizer=tokenizer,
        tensors=tensors, read_tensors=read,
        fingerprint=fingerprint(folder, config_path.read_text(encoding="utf-8"), entries),
        n_params=_count_params(entries, config), name=folder.name, generation_config=generation_config,
        quantization_config=quant or None, stored_types=tuple(kind for kind, _ in weights.most_common()),
    ))


def config_from_dict(raw, where: str) -> ModelConfig:
    """ModelConfig from a config.json-style dict, with a wrong-typed field as one clear error."""
    if not isinstance(raw, dict):
        raise ModelFormatError(f"{where} is not a JSON object; re-download or re-export the model")
    try:
        return ModelConfig.from_dict(raw)
    except EngineError:
        raise
    except (TypeError, ValueError, AttributeError, ZeroDivisionError, OverflowError) as err:
        raise ModelFormatError(f"{where} has a field of the wrong type or value ({err}); "
                               "re-download or re-export the model") from None


def optional_json(path: Path) -> dict:
    if not path.exists():
        return {}
    value = read_json(path, path.name)
    if not isinstance(value, dict):
        raise ModelFormatError(f"{path} is not a JSON object; delete it or re-download the model")
    return value


def as_id_list(value) -> list[int]:
    if value is None:
        return []
    values = [value] if isinstance(value, int) else value
    if not isinstance(values, list) or not all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        raise ModelFormatError(f"eos_token_id {value!r} is not a token id or a list of them; fix the model's config")
    return list(values)


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
