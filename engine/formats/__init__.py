"""Model formats: each reader turns a file or folder into one `ModelSource` for the loader.

- a Hugging Face folder (config.json + safetensors; also saved pre-quantized by bitsandbytes):
  hf_folder.py;
- a GGUF file, or a folder holding exactly one: gguf_reader.py.
`open_source` decides which from the path alone. Nothing here builds or runs a network.
"""
from __future__ import annotations

from pathlib import Path

from ..errors import ModelFormatError
from .source import ModelSource, TensorSpec


def open_source(path: Path) -> ModelSource:
    from .gguf_reader import is_gguf, open_gguf
    from .hf_folder import open_folder

    if not path.exists():
        raise ModelFormatError(f"{path} does not exist; choose a model folder (one holding config.json) "
                               "or a .gguf file")
    if path.is_file():
        if path.suffix.lower() == ".gguf" or is_gguf(path):
            return open_gguf(path)
        if path.name == "config.json":
            return open_folder(path.parent)
        raise ModelFormatError(f"{path} is neither a GGUF file nor a model folder; choose a .gguf file or the "
                               "model's folder (the one holding config.json)")
    if not path.is_dir():
        raise ModelFormatError(f"{path} is not a file or a folder; choose a model folder or a .gguf file")
    if (path / "config.json").exists():
        return open_folder(path)
    ggufs = sorted(p for p in path.iterdir() if p.suffix.lower() == ".gguf" and p.is_file())
    if len(ggufs) == 1:
        return open_gguf(ggufs[0])
    if len(ggufs) > 1:
        names = ", ".join(p.name for p in ggufs[:8]) + (f" (and {len(ggufs) - 8} more)" if len(ggufs) > 8 else "")
        raise ModelFormatError(f"{path} holds {len(ggufs)} GGUF files ({names}); choose one of them")
    return open_folder(path)  # says what a model folder is missing


__all__ = ["open_source", "ModelSource", "TensorSpec"]
