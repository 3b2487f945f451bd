"""Filling a network built on the meta device with real tensors, one at a time.

`place` puts one tensor into the network under its checkpoint name; `fill_float` streams every
tensor of a `ModelSource` into the network in a float dtype. Quantized filling lives in
quantize.py and prequantized.py, which use `place` too. Nothing here reads files itself.
"""
from __future__ import annotations

from typing import Iterable, Iterator

import torch
from torch import nn

from .errors import ModelFormatError


def place(network: nn.Module, name: str, value: torch.Tensor | nn.Parameter):
    module_name, _, attr = name.rpartition(".")
    module = network.get_submodule(module_name)
    setattr(module, attr, value if isinstance(value, nn.Parameter) else nn.Parameter(value, requires_grad=False))


def parameter_shapes(network: nn.Module) -> dict[str, tuple[int, ...]]:
    return {name: tuple(p.shape) for name, p in network.named_parameters()}


def checked(tensors: Iterable[tuple[str, torch.Tensor]]) -> Iterator[tuple[str, torch.Tensor]]:
    """Pass tensors through, refusing one with NaN or infinite values (a corrupt file) by name."""
    for name, tensor in tensors:
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise ModelFormatError(f"tensor {name} holds NaN or infinite values; the model file is corrupt, "
                                   "download it again")
        yield name, tensor


def fill_float(network: nn.Module, tensors: Iterable[tuple[str, torch.Tensor]], dtype: torch.dtype,
               device: torch.device):
    for name, tensor in checked(tensors):
        place(network, name, tensor.to(device=device, dtype=dtype))
