"""`DecoderLayer`: the one layer step, used by every forward (prompts, scoring, the one-token
decode step, the static compiled step).

Pre-norm (Llama, Qwen, Phi-3, GPT-2): x + attn(norm(x)), then x + mlp(norm(x)). Gemma puts a
norm after each sublayer too: x + norm(attn(norm(x))), then x + norm(mlp(norm(x))). Module
names follow the checkpoints (input_layernorm, post_attention_layernorm: before the MLP in
Llama, after attention in Gemma; pre_/post_feedforward_layernorm).
"""
from __future__ import annotations

import torch
from torch import nn

from .attention import Attention
from .mlp import MLP
from .norms import make_norm
from .span import Span


class DecoderLayer(nn.Module):
    def __init__(self, config, layer: int):
        super().__init__()
        self.sandwich = config.sandwich_norms
        self.self_attn = Attention(config, layer)
        self.mlp = MLP(config)
        self.input_layernorm = make_norm(config)
        self.post_attention_layernorm = make_norm(config)
        if self.sandwich:
            self.pre_feedforward_layernorm = make_norm(config)
            self.post_feedforward_layernorm = make_norm(config)

    def forward(self, x: torch.Tensor, span: Span) -> torch.Tensor:
        """x (B, T, C) -> (B, T, C)."""
        if self.sandwich:
            x = x + self.post_attention_layernorm(self.self_attn(self.input_layernorm(x), span))
            return x + self.post_feedforward_layernorm(self.mlp(self.pre_feedforward_layernorm(x)))
        x = x + self.self_attn(self.input_layernorm(x), span)
        return x + self.mlp(self.post_attention_layernorm(x))
