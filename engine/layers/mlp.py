"""The feed-forward sublayer: gated (down(act(gate) * up): SwiGLU for Llama/Qwen/Phi-3, GeGLU for
Gemma) or plain (down(act(up)): GPT-2), with the activations transformers names.

Gate and up are either two checkpoint matrices (run as one stacked matmul once loaded) or one
stored gate_up_proj (Phi-3: gate rows first). Nothing here knows about attention or positions.
"""
from __future__ import annotations

import math
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from .linear import FusedLinear, linear, stack_projections


def gelu_new(x: torch.Tensor) -> torch.Tensor:
    """GPT-2's tanh GELU, in transformers' NewGELUActivation arithmetic."""
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


# config.json's hidden_act / hidden_activation / activation_function -> the function
ACTIVATIONS = {
    "silu": F.silu,
    "swish": F.silu,
    "gelu_pytorch_tanh": partial(F.gelu, approximate="tanh"),
    "gelu_new": gelu_new,
    "gelu": F.gelu,
    "relu": F.relu,
}


class MLP(nn.Module):
    def __init__(self, config):
        super().__init__()
        c = config
        self.config = c
        if not c.gated_mlp:
            self.up_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=c.mlp_bias)
        elif c.fused_gate_up:
            self.gate_up_proj = nn.Linear(c.hidden_size, 2 * c.intermediate_size, bias=c.mlp_bias)
        else:
            self.gate_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=c.mlp_bias)
            self.up_proj = nn.Linear(c.hidden_size, c.intermediate_size, bias=c.mlp_bias)
        self.down_proj = nn.Linear(c.intermediate_size, c.hidden_size, bias=c.mlp_bias)
        self.act = ACTIVATIONS[c.hidden_act]
        self.gate_up: FusedLinear | None = None  # set by fuse() once the weights are loaded

    def fuse(self):
        """Run gate and up as one matmul from now on (a no-op for quantized or already fused projections)."""
        if not self.config.gated_mlp or self.config.fused_gate_up:
            return
        layers = [self.gate_proj, self.up_proj]
        if self.gate_up is None:
            self.gate_up = stack_projections(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (..., C) -> (..., C)."""
        if not self.config.gated_mlp:
            return linear(self.down_proj, self.act(linear(self.up_proj, x)))
        if self.gate_up is not None:
            gate, up = self.gate_up(x).split(self.gate_up.sizes, dim=-1)  # (..., I) each
        elif self.config.fused_gate_up:
            gate, up = linear(self.gate_up_proj, x).chunk(2, dim=-1)  # (..., I) each
        else:
            gate, up = linear(self.gate_proj, x), linear(self.up_proj, x)
        return linear(self.down_proj, self.act(gate) * up)
