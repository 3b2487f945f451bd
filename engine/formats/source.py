"""`ModelSource`: what one model file or folder offers the loader, whatever its format.

Every format reader (a Hugging Face safetensors folder, a bitsandbytes pre-quantized folder, a
GGUF file) produces one of these: the architecture's config, the tokenizer, generation
defaults, the tensors by the engine's names with their shapes, and a way to read them one at
a time. The loader then builds, fills and quantizes the same way for all. It reads nothing itself.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import torch

from ..config import ModelConfig
from ..tokenizer import Tokenizer


@dataclass(frozen=True)
class TensorSpec:
    name: str  # the engine's (Hugging Face) tensor name
    shape: tuple[int, ...]  # logical shape, as the network's parameter has it
    stored: str  # how the file stores it: "BF16", "F32", "Q4_1", "U8" (packed bitsandbytes), ...


@dataclass
class ModelSource:
    path: Path  # the file or folder the user chose
    format: str  # "safetensors" | "bitsandbytes" | "gguf"
    config: ModelConfig
    tokenizer: Tokenizer
    tensors: dict[str, TensorSpec]
    read_tensors: Callable[[Iterable[str]], Iterator[tuple[str, torch.Tensor]]]  # yields (name, CPU tensor)
    fingerprint: str  # short id of the checkpoint: equal for the same files copied anywhere
    n_params: int
    name: str
    generation_config: dict = field(default_factory=dict)
    quantization_config: dict | None = None  # a pre-quantized folder's transformers quantization_config
    inv_freq: torch.Tensor | None = None  # rotary frequencies stored by the file itself (GGUF rope_freqs)
    stored_types: tuple[str, ...] = ()  # the file's weight types, most common first ("Q4_1", "Q8_0", "F32")
    # name -> (GGML type, raw blocks (rows, bytes) in the engine's row order): quantized weights as
    # stored, for kernels that compute on them (int4.py); None where the format has none
    read_blocks: Callable[[str], tuple[str, object]] | None = None

    def read(self, names: Iterable[str] | None = None) -> Iterator[tuple[str, torch.Tensor]]:
        """Tensors one at a time; names=None reads every tensor the file holds."""
        return self.read_tensors(self.tensors if names is None else names)

    def stored(self, name: str) -> str:
        spec = self.tensors.get(name)
        return spec.stored if spec else ""

    @property
    def label(self) -> str:
        """What was loaded, for people: "GGUF Q4_1", "safetensors BF16"."""
        kinds = "/".join(self.stored_types[:2]) if self.stored_types else ""
        prefix = {"gguf": "GGUF", "safetensors": "safetensors", "bitsandbytes": "bitsandbytes"}[self.format]
        return f"{prefix} {kinds}".strip()
