"""Calling projections: `linear` (an nn.Linear without nn.Module's call machinery) and
`stack_projections` (several layers reading the same input run as one matmul over their stacked
weights: `FusedLinear` for plain nn.Linear layers, int4.StackedInt4 for packed 4-bit ones).

Quantized (bitsandbytes) layers are called as modules and never stacked. Nothing here knows
which projection is which.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..int4 import StackedInt4


def linear(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """module(x), skipping nn.Module's call machinery for a plain nn.Linear (quantized layers are called)."""
    if type(module) is nn.Linear:
        return F.linear(x, module.weight, module.bias)
    return module(x)


def stack_projections(layers: list[nn.Module]):
    """One callable running `layers` as one matmul, or None where they cannot be stacked."""
    if FusedLinear.possible(layers):
        return FusedLinear(layers)
    if StackedInt4.possible(layers):
        return StackedInt4(layers)
    return None


class FusedLinear:
    """Several nn.Linear layers reading the same input, run as one matmul over their stacked weights.

    The layers' own parameters become views into the stacked weight, so names, state dicts and memory
    are unchanged; only plain (unquantized) layers of one dtype and device can be fused."""

    def __init__(self, layers: list[nn.Linear]):
        with torch.no_grad():
            self.weight = torch.cat([layer.weight for layer in layers])  # (sum of out_features, in_features)
            self.bias = torch.cat([layer.bias for layer in layers]) if layers[0].bias is not None else None
            self.sizes = [layer.out_features for layer in layers]
            offset = 0
            for layer, size in zip(layers, self.sizes):
                layer.weight = nn.Parameter(self.weight[offset:offset + size], requires_grad=False)
                if self.bias is not None:
                    layer.bias = nn.Parameter(self.bias[offset:offset + size], requires_grad=False)
                offset += size

    @staticmethod
    def possible(layers: list[nn.Module]) -> bool:
        first = layers[0]
        return all(
            type(layer) is nn.Linear and layer.weight.dtype == first.weight.dtype
            and layer.weight.device == first.weight.device and layer.weight.device.type != "meta"
            and (layer.bias is None) == (first.bias is None)
            for layer in layers
        )

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)  # (..., sum of out_features)


class Bf16Head:
    """The output matmul with a bf16 copy of its weight (half the bytes read per token; bf16 matmuls use
    the CPU's bf16 units), returning the caller's dtype. Used where the model is approximate anyway (int4)."""

    kind = "bfloat16"  # how Model.memory() reports its bytes

    def __init__(self, weight: torch.Tensor):
        self.weight = weight.detach().to(torch.bfloat16).contiguous()  # (V, C)

    def __call__(self, rows: torch.Tensor) -> torch.Tensor:
        return F.linear(rows.to(torch.bfloat16), self.weight).to(rows.dtype)  # (N, V)

    def nbytes(self) -> int:
        return self.weight.numel() * self.weight.element_size()
