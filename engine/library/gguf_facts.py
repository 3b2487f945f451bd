"""Facts about a GGUF file from its header alone, through `gguf.GGUFReader`.

The reader memory-maps the file and parses metadata and the tensor table; tensor data is never
touched (no `.data` is read), so a 40 GB file costs what its header costs. A file that is
truncated (an interrupted download) or is no GGUF at all comes back with `incomplete` set.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from .facts import Facts

GGUF_MAGIC = b"GGUF"
REQUIRED_TENSORS = ("token_embd.weight",)
_READ_ERRORS = (ValueError, IndexError, KeyError, OverflowError, MemoryError, UnicodeDecodeError, TypeError, OSError)


def gguf_facts(path: Path, name: str | None = None) -> Facts:
    from gguf import GGUFReader, LlamaFileType

    size = path.stat().st_size
    label = name or path.stem
    try:
        with path.open("rb") as handle:
            magic = handle.read(4)
    except OSError as err:
        return Facts("gguf", label, size_bytes=size, incomplete=f"cannot be read ({err.strerror})")
    if magic != GGUF_MAGIC:
        return Facts("gguf", label, size_bytes=size, incomplete="not a GGUF file (partial or corrupt)")
    try:
        reader = GGUFReader(str(path), "r")
    except _READ_ERRORS:
        return Facts("gguf", label, size_bytes=size, incomplete="truncated or corrupt GGUF header")
    try:
        ends = max((t.data_offset + t.n_bytes for t in reader.tensors), default=0)
        if ends > size:
            return Facts("gguf", label, size_bytes=size,
                         incomplete=f"truncated: {size} of {ends} bytes (an interrupted download?)")
        arch = _field(reader, "general.architecture")
        counts = Counter(t.tensor_type.name for t in reader.tensors)
        file_type = _field(reader, "general.file_type")
        quantization = None
        if isinstance(file_type, int):
            try:
                quantization = LlamaFileType(file_type).name.removeprefix("MOSTLY_").removeprefix("ALL_")
            except ValueError:
                quantization = None
        if quantization in (None, "GUESSED"):
            matrices = Counter(t.tensor_type.name for t in reader.tensors if len(t.shape) == 2)
            quantization = (matrices or counts).most_common(1)[0][0] if counts else None
        names = {t.name for t in reader.tensors}
        context = _field(reader, f"{arch}.context_length") if arch else None
        split = _field(reader, "split.count")
        return Facts(
            format="gguf",
            name=str(_field(reader, "general.name") or label),
            architecture=str(arch) if arch else None,
            n_params=sum(int(t.n_elements) for t in reader.tensors),
            quantization=quantization,
            context_length=int(context) if isinstance(context, int) else None,
            size_bytes=size,
            tensor_types=tuple(kind for kind, _ in counts.most_common()),
            split_count=int(split) if isinstance(split, int) and split > 1 else 1,
            missing_tensors=tuple(t for t in REQUIRED_TENSORS if t not in names),
        )
    finally:
        del reader  # drop the memory map now (Windows keeps a mapped file locked)


def _field(reader, key: str):
    field = reader.fields.get(key)
    if field is None:
        return None
    try:
        return field.contents()
    except _READ_ERRORS:
        return None
