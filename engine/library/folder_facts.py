"""Facts about a Hugging Face model folder from config.json and the safetensors headers alone.

Weights are found as the engine finds them (an index and its shards, model.safetensors, or any
*.safetensors); each header is read with `engine.checkpoint.read_header`, which checks it
against the file's size, so a shard cut short by an interrupted download marks the folder
`incomplete`. Pickle-only folders are described but never opened. No tensor data is read.
"""
from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

from ..checkpoint import PICKLE_SUFFIXES, read_header
from ..errors import ModelFormatError
from .facts import Facts
from .files import size_on_disk

# bitsandbytes companions of a quantized weight: not parameters of the model
_AUXILIARY = (".absmax", ".quant_map", ".quant_state", ".nested_absmax", ".nested_quant_map", ".SCB", ".weight_format")


def folder_facts(folder: Path, name: str | None = None) -> Facts:
    label = name or folder.name
    size = size_on_disk(folder)
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return Facts("safetensors", label, size_bytes=size, incomplete="config.json missing or not valid JSON")
    if not isinstance(config, dict):
        return Facts("safetensors", label, size_bytes=size, incomplete="config.json is not a JSON object")
    common = dict(name=label, architecture=config.get("model_type"), size_bytes=size, config=config,
                  context_length=_int(config.get("max_position_embeddings")))
    files, missing = _weight_files(folder)
    if missing:
        return Facts("safetensors", **common, incomplete=f"shard {missing} missing (an interrupted download?)")
    if not files:
        pickles = sorted(p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES)
        if pickles:
            return Facts("pickle", **common, problem=f"pickle weights only ({pickles[0]}); glasslm reads safetensors")
        return Facts("safetensors", **common, incomplete="no weights (only config and tokenizer files)")
    elements: Counter[str] = Counter()
    n_params = 0
    quant = config.get("quantization_config") if isinstance(config.get("quantization_config"), dict) else {}
    packed_4bit = bool(quant.get("load_in_4bit") or quant.get("_load_in_4bit"))
    for path in files:
        try:
            header = read_header(path)
        except ModelFormatError as err:
            reason = "truncated" if "truncated" in str(err) else "corrupt"
            return Facts("safetensors", **common, incomplete=f"{path.name} is {reason} (an interrupted download?)")
        for tensor, info in header.items():
            if tensor == "__metadata__" or tensor.endswith(_AUXILIARY) or ".quant_state." in tensor:
                continue
            count = math.prod(info["shape"])
            elements[info["dtype"]] += count
            n_params += count * (2 if packed_4bit and info["dtype"] == "U8" else 1)
    dtypes = tuple(kind for kind, _ in elements.most_common())
    quantization, problem = _quantization(config, quant, dtypes)
    if not problem and not (folder / "tokenizer.json").is_file():
        problem = "no tokenizer.json"
    return Facts("safetensors", **common, n_params=n_params, quantization=quantization, tensor_types=dtypes,
                 problem=problem)


def _weight_files(folder: Path) -> tuple[list[Path], str]:
    """(safetensors files, the first missing shard's name or "")."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            weight_map = json.loads(index.read_text(encoding="utf-8")).get("weight_map") or {}
        except (OSError, json.JSONDecodeError, UnicodeDecodeError, AttributeError):
            return [], index.name
        names = sorted(set(weight_map.values()))
        missing = [n for n in names if not (folder / n).is_file()]
        return [folder / n for n in names], (missing[0] if missing else "")
    single = folder / "model.safetensors"
    if single.is_file():
        return [single], ""
    return sorted(p for p in folder.glob("*.safetensors") if p.is_file()), ""


def _quantization(config: dict, quant: dict, dtypes: tuple[str, ...]) -> tuple[str | None, str]:
    """(a label such as "BF16" or "bitsandbytes nf4", a problem that stops glasslm opening it or "")."""
    if quant:
        method = quant.get("quant_method") or "unknown"
        if method != "bitsandbytes":
            return str(method), f"{method} quantization not supported"
        if quant.get("load_in_8bit") or quant.get("_load_in_8bit"):
            return "bitsandbytes int8", ""
        return f"bitsandbytes {quant.get('bnb_4bit_quant_type', 'fp4')}", ""
    if isinstance(config.get("quantization"), dict):  # MLX (LM Studio on a Mac)
        bits = config["quantization"].get("bits")
        return f"MLX {bits}-bit", "MLX quantization not supported"
    return (dtypes[0] if dtypes else None), ""


def _int(value) -> int | None:
    return int(value) if isinstance(value, int | float) and value > 0 else None
