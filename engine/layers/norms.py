"""Normalisation layers, with the arithmetic of the Hugging Face implementation of each family.

- `RMSNorm`: Llama/Mistral/Qwen/Phi-3 (normalise in fp32, cast back, then scale by the weight) and,
  with `unit_offset`, Gemma's (scale by 1 + weight in fp32, then cast back);
- `LayerNorm`: mean and variance with a bias (GPT-2).
`make_norm` picks the one a config names. Nothing here knows where a norm sits in a layer.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float, unit_offset: bool = False) -> torch.Tensor:
    """Hugging Face's RMSNorm arithmetic: normalise in fp32; Llama casts back then scales, Gemma scales
    by (1 + weight) in fp32 then casts back."""
    dtype = x.dtype
    x = x.float()
    # sum / n is what mean() computes, without mean's extra casts (a decode step runs 13 norms)
    x = x * torch.rsqrt(x.pow(2).sum(-1, keepdim=True) / x.shape[-1] + eps)
    if unit_offset:
        return (x * (1.0 + weight.float())).to(dtype)
    return weight * (x if dtype == torch.float32 else x.to(dtype))


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float, unit_offset: bool = False):
        super().__init__()
        # Gemma stores the gain minus one (zeros = identity); the others store the gain itself
        self.weight = nn.Parameter(torch.zeros(dim) if unit_offset else torch.ones(dim))
        self.eps = eps
        self.unit_offset = unit_offset

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return rms_norm(x, self.weight, self.eps, self.unit_offset)


class LayerNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, (x.shape[-1],), self.weight, self.bias, self.eps)


def make_norm(config, dim: int | None = None) -> nn.Module:
    """The norm a config names (config.norm: rms | rms_unit_offset | layer) over `dim` (default: hidden_size)."""
    dim = config.hidden_size if dim is None else dim
    if config.norm == "layer":
        return LayerNorm(dim, config.rms_norm_eps)
    return RMSNorm(dim, config.rms_norm_eps, unit_offset=config.norm == "rms_unit_offset")
