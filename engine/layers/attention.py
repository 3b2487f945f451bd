"""Self-attention: the projections (q/k/v, with rotary and q/k norms), and `attend`, the one
cached-attention function every path goes through (prompts, scoring, the one-token decode step,
the static compiled step, attention capture).

`attend` picks the arithmetic, not the semantics: scaled_dot_product_attention where it is exact,
the softmax written out where scores are soft-capped (Gemma 2), upcast (GPT-2's option), kept
(Model.attention) or masked over a fixed-size cache (the static step, which torch.compile fuses).
Which keys a query sees comes from the span's KeyRange (layers/span.py). Nothing here owns a cache.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .linear import FusedLinear, linear, stack_projections
from .norms import make_norm
from .positions import apply_rotary
from .span import KeyRange, Span


def softmax_attention(q, k, v, mask, scale: float, softcap: float | None):
    """Softmax(q k^T * scale [soft-capped], masked) v, written out; returns (output, weights (.., t, S) fp32).

    q (B, h, t, D), k and v (B, h, S, D); mask broadcastable to (t, S), True where a key is visible
    (None: every key)."""
    scores = (q @ k.transpose(-1, -2)) * scale  # (B, h, t, S)
    if softcap is not None:
        scores = torch.tanh(scores / softcap) * softcap
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(-1, dtype=torch.float32)  # (B, h, t, S)
    return weights.to(v.dtype) @ v, weights  # (B, h, t, D)


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, keys: KeyRange, scale: float | None = None,
           softcap: float | None = None, upcast: bool = False, static: bool = False,
           capture: list | None = None) -> torch.Tensor:
    """Attention of queries q (B, T, H, D) over cached keys/values k, v (B, Hkv, S, D) -> (B, T, H*D).

    scale None is 1/sqrt(D); capture appends the weights (B, H, T, S) (computed in fp32); upcast computes
    in fp32; static: the one-token step over the whole fixed-size cache, masked by keys.mask."""
    B, T, H, D = q.shape
    Hkv = k.shape[1]
    written_out = capture is not None or softcap is not None or upcast or static
    if T == 1 and capture is None:
        # One query per sequence: fold each KV head's query heads into the query axis, so grouped-query
        # attention reads the cache without copying it, and keep only the keys its window allows.
        q = q.reshape(B, Hkv, H // Hkv, D)  # (B, Hkv, n_rep, D)
        if keys.first:
            k, v = k[:, :, keys.first:], v[:, :, keys.first:]  # (B, Hkv, S', D)
        if written_out:  # keys.mask (1, S) in the static step; otherwise every key left is visible
            y, _ = _written_out(q, k, v, keys.mask, scale, softcap, upcast)  # (B, Hkv, n_rep, D)
        else:
            y = F.scaled_dot_product_attention(q, k, v, scale=scale)  # (B, Hkv, n_rep, D)
        return y.reshape(B, 1, H * D)  # (B, 1, H*D)
    q = q.transpose(1, 2)  # (B, H, T, D)
    if H != Hkv:
        k = k.repeat_interleave(H // Hkv, dim=1)  # (B, H, S, D)
        v = v.repeat_interleave(H // Hkv, dim=1)  # (B, H, S, D)
    if written_out:
        S = k.shape[2]
        mask = keys.mask if keys.mask is not None else torch.ones(T, S, dtype=torch.bool, device=q.device).tril(S - T)
        y, weights = _written_out(q, k, v, mask, scale, softcap, upcast or capture is not None)  # (B, H, T, D)
        if capture is not None:
            capture.append(weights)
    elif keys.mask is None:
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=scale)  # (B, H, T, D)
    else:
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=keys.mask, scale=scale)  # (B, H, T, D)
    return y.transpose(1, 2).reshape(B, T, H * D)  # (B, T, H*D)


def _written_out(q, k, v, mask, scale, softcap, upcast):
    """softmax_attention with the default scale, in fp32 when upcast (the result back in v's dtype)."""
    scale = q.shape[-1] ** -0.5 if scale is None else scale
    if not upcast:
        return softmax_attention(q, k, v, mask, scale, softcap)
    y, weights = softmax_attention(q.float(), k.float(), v.float(), mask, scale, softcap)
    return y.to(v.dtype), weights


class Attention(nn.Module):
    def __init__(self, config, layer: int):
        super().__init__()
        self.config = config
        c = config
        self.layer = layer  # index into the KV cache
        self.window = c.window_of(layer)  # sliding window, or None
        self.rope_kind = c.rope_kind_of(layer)  # global | local | None (learned positions)
        self.scale = c.attention_scale_of(layer)  # None: 1/sqrt(head_dim)
        qkv_bias = c.attention_bias or c.qkv_bias
        H, Hkv, D = c.num_attention_heads, c.num_key_value_heads, c.head_dim
        if c.fused_qkv:  # stored as one matrix (phi3, gpt2): q rows, then k, then v
            self.qkv_proj = nn.Linear(c.hidden_size, (H + 2 * Hkv) * D, bias=qkv_bias)
        else:
            self.q_proj = nn.Linear(c.hidden_size, H * D, bias=qkv_bias)
            self.k_proj = nn.Linear(c.hidden_size, Hkv * D, bias=qkv_bias)
            self.v_proj = nn.Linear(c.hidden_size, Hkv * D, bias=qkv_bias)
        self.o_proj = nn.Linear(H * D, c.hidden_size, bias=c.attention_bias)
        if c.qk_norm:
            self.q_norm = make_norm(c, D)
            self.k_norm = make_norm(c, D)
        self.qkv: FusedLinear | None = None  # set by fuse() once the weights are loaded

    def fuse(self):
        """Run q, k and v as one matmul from now on (a no-op for quantized or already fused projections)."""
        if self.config.fused_qkv:
            return
        layers = [self.q_proj, self.k_proj, self.v_proj]
        if self.qkv is None:
            self.qkv = stack_projections(layers)

    def _stacked(self, x: torch.Tensor) -> torch.Tensor | None:
        """q, k and v side by side (B, T, (H + 2*Hkv) * D) from one matmul, or None where they run separately."""
        if self.config.fused_qkv:
            return linear(self.qkv_proj, x)
        return self.qkv(x) if self.qkv is not None else None

    def project(self, x: torch.Tensor, rotary) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """q (B, T, H, D) and k (B, T, Hkv, D) with positions applied (rotary: cos, signed sin, or None),
        and v (B, T, Hkv, D)."""
        c = self.config
        B, T, _ = x.shape
        H, Hkv, D = c.num_attention_heads, c.num_key_value_heads, c.head_dim
        qkv = self._stacked(x)  # (B, T, (H + 2*Hkv) * D) or None
        if qkv is not None and not c.qk_norm:
            qk = qkv[..., :(H + Hkv) * D].view(B, T, H + Hkv, D)  # (B, T, H+Hkv, D)
            if rotary is not None:  # q and k share the rotation: turn both with one set of ops
                qk = apply_rotary(qk, *rotary)
            return qk[:, :, :H], qk[:, :, H:], qkv[..., (H + Hkv) * D:].view(B, T, Hkv, D)
        if qkv is not None:
            q, k, v = qkv.split([H * D, Hkv * D, Hkv * D], dim=-1)
        else:
            q, k, v = linear(self.q_proj, x), linear(self.k_proj, x), linear(self.v_proj, x)
        q, k, v = q.view(B, T, H, D), k.view(B, T, Hkv, D), v.view(B, T, Hkv, D)
        if c.qk_norm:
            q, k = self.q_norm(q), self.k_norm(k)
        if rotary is not None:
            q, k = apply_rotary(q, *rotary), apply_rotary(k, *rotary)
        return q, k, v

    def forward(self, x: torch.Tensor, span: Span) -> torch.Tensor:
        """x (B, T, C) -> (B, T, C): project, store keys/values in the span's cache, attend."""
        B, T, _ = x.shape
        q, k, v = self.project(x, span.rotary.get(self.rope_kind))  # (B, T, heads, D) each
        k, v = k.transpose(1, 2), v.transpose(1, 2)  # (B, Hkv, T, D)
        if span.cache is not None:
            k, v = span.cache.update(self.layer, span.start, k, v)  # (B, Hkv, S, D)
        y = attend(q, k, v, span.keys[self.window], self.scale, self.config.attn_logit_softcap,
                   self.config.attention_upcast, span.static, span.capture)  # (B, T, H*D)
        return linear(self.o_proj, y)  # (B, T, C)
