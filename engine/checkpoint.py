"""Reading a Hugging Face model folder's weight files safely and strictly.

Finds the safetensors file(s) (single or sharded with an index), refuses pickle-based
weights, validates every header against the file size before any tensor is touched, and
yields tensors one at a time, reading only each tensor's bytes. It does not build models or know
about dtypes beyond what the headers say.
"""
from __future__ import annotations

import hashlib
import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch

from .errors import ModelFormatError

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
SAFETENSORS_DTYPE_BYTES = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1,
    "BOOL": 1, "F8_E4M3": 1, "F8_E5M2": 1, "U16": 2, "U32": 4, "U64": 8,
}


@dataclass(frozen=True)
class TensorEntry:
    name: str
    file: Path
    dtype: str  # safetensors dtype name, e.g. "BF16"
    shape: tuple[int, ...]


def read_json(path: Path, what: str):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelFormatError(f"{path.parent} has no {path.name}; a model folder needs {what}") from None
    except IsADirectoryError:
        raise ModelFormatError(f"{path} is a folder, not a file; a model folder needs {what} as a file") from None
    except OSError as err:
        raise ModelFormatError(f"{path} could not be read ({err.strerror or err}); check its permissions") from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as err:
        raise ModelFormatError(f"{path} is not valid JSON ({err}); re-download or re-export the model") from None


def weight_files(folder: Path) -> list[Path]:
    """The safetensors files that hold the model, in index order; refuses pickle-only folders."""
    index = folder / "model.safetensors.index.json"
    if index.exists():
        data = read_json(index, "a weight index")
        weight_map = data.get("weight_map") if isinstance(data, dict) else None
        if not isinstance(weight_map, dict) or not weight_map or not all(
                isinstance(v, str) and v and "/" not in v and "\\" not in v and v not in (".", "..")
                for v in weight_map.values()):
            raise ModelFormatError(f"{index} has no valid weight_map (tensor name -> shard file in this folder); "
                                   "re-download the model's index file")
        names = sorted(set(weight_map.values()))
        missing = [n for n in names if not (folder / n).is_file()]
        if missing:
            raise ModelFormatError(
                f"{folder} is missing shard {missing[0]} listed in model.safetensors.index.json; "
                "download every shard of the model"
            )
        return [folder / n for n in names]
    single = folder / "model.safetensors"
    if single.is_dir():
        raise ModelFormatError(f"{single} is a folder, not a weights file; re-download the model")
    if single.exists():
        return [single]
    others = sorted(p for p in folder.glob("*.safetensors") if p.is_file())
    if others:
        return others
    pickles = [p.name for p in folder.iterdir() if p.suffix in PICKLE_SUFFIXES]
    if pickles:
        raise ModelFormatError(
            f"{folder} holds only pickle-based weights ({pickles[0]}); glasslm reads only safetensors, "
            "because loading a pickle can run arbitrary code. Convert it once with transformers: "
            "AutoModelForCausalLM.from_pretrained(folder).save_pretrained(new_folder, safe_serialization=True)"
        )
    raise ModelFormatError(f"{folder} has no model.safetensors; a model folder needs its weights in safetensors files")


def read_header(path: Path) -> dict:
    """The JSON header of a safetensors file, checked against the file's real size."""
    try:
        size = path.stat().st_size
        handle = path.open("rb")
    except OSError as err:
        raise ModelFormatError(f"{path} could not be read ({err.strerror or err}); re-download it") from None
    with handle:
        prefix = handle.read(8)
        if len(prefix) < 8:
            raise ModelFormatError(f"{path} is too short to be a safetensors file; re-download it")
        (header_len,) = struct.unpack("<Q", prefix)
        if header_len > min(size - 8, 100_000_000):
            raise ModelFormatError(f"{path} has a corrupt safetensors header; re-download it")
        try:
            header = json.loads(handle.read(header_len))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ModelFormatError(f"{path} has a corrupt safetensors header; re-download it")
    if not isinstance(header, dict):
        raise ModelFormatError(f"{path} has a corrupt safetensors header; re-download it")
    data_size = size - 8 - header_len
    for name, info in header.items():
        if name == "__metadata__":
            continue
        try:
            begin, end = info["data_offsets"]
            expected = SAFETENSORS_DTYPE_BYTES[info["dtype"]]
            for dim in info["shape"]:
                expected *= dim
        except (KeyError, TypeError, ValueError):
            raise ModelFormatError(f"{path} has a corrupt entry for tensor {name}; re-download it")
        if end > data_size:
            raise ModelFormatError(
                f"{path} is truncated: tensor {name} ends at byte {end} but the file holds {data_size}; "
                "the download was probably interrupted, download it again"
            )
        if end - begin != expected:
            raise ModelFormatError(f"{path} has a corrupt entry for tensor {name}; re-download it")
    return header


def tensor_index(files: list[Path]) -> dict[str, TensorEntry]:
    entries: dict[str, TensorEntry] = {}
    for path in files:
        for name, info in read_header(path).items():
            if name == "__metadata__":
                continue
            entries[name] = TensorEntry(name, path, info["dtype"], tuple(info["shape"]))
    return entries


_TORCH_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8,
    "BOOL": torch.bool, "F8_E4M3": torch.float8_e4m3fn, "F8_E5M2": torch.float8_e5m2,
}


def iter_tensors(entries: list[TensorEntry]) -> Iterator[tuple[str, torch.Tensor]]:
    """Yield (name, CPU tensor) one at a time, reading only that tensor's bytes from its file.

    Plain positioned reads instead of a whole-file memory map: only the tensor in hand is
    resident, so loading a quantized model never holds the full-precision file in memory.
    """
    by_file: dict[Path, list[TensorEntry]] = {}
    for entry in entries:
        by_file.setdefault(entry.file, []).append(entry)
    for path, file_entries in by_file.items():
        header = read_header(path)
        with path.open("rb") as handle:
            (header_len,) = struct.unpack("<Q", handle.read(8))
            data_start = 8 + header_len
            for entry in sorted(file_entries, key=lambda e: header[e.name]["data_offsets"][0]):
                begin, end = header[entry.name]["data_offsets"]
                dtype = _TORCH_DTYPES.get(entry.dtype)
                if dtype is None:
                    raise ModelFormatError(f"tensor {entry.name} in {path} has unsupported dtype {entry.dtype}")
                handle.seek(data_start + begin)
                buffer = bytearray(end - begin)
                if handle.readinto(buffer) != end - begin:
                    raise ModelFormatError(f"{path} is truncated at tensor {entry.name}; download it again")
                if not buffer:
                    yield entry.name, torch.empty(entry.shape, dtype=dtype)
                    continue
                yield entry.name, torch.frombuffer(buffer, dtype=dtype).reshape(entry.shape)


def fingerprint(folder: Path, config_text: str, entries: dict[str, TensorEntry]) -> str:
    """A short id of the config and weight index: equal for the same checkpoint copied anywhere."""
    digest = hashlib.sha256(config_text.encode("utf-8"))
    for name in sorted(entries):
        e = entries[name]
        digest.update(f"{name}|{e.dtype}|{e.shape}|{e.file.stat().st_size}".encode())
    return digest.hexdigest()[:16]
