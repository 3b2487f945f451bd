"""Rotary position tables and applying them.

A model has one rope kind per layer: "global" (config.rope), "local" (Gemma 3's sliding layers,
config.local_rope) and, for LongRoPE, "long" (the long factors, used for a whole forward call once
it reaches past original_max_position_embeddings, as transformers and Phi-3's own code do).
`RotaryTables` keeps cos and signed-sin tables per kind, grown on demand. Learned absolute
positions (GPT-2) are an embedding and live in the model, not here.
"""
from __future__ import annotations

import torch

from ..rope import attention_factor, inverse_frequencies


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, signed_sin: torch.Tensor) -> torch.Tensor:
    """x: (B, T, heads, D); cos, signed_sin: (T, 1, R) with R <= D, signed_sin = [-sin, sin] over the two halves.

    Equal, bit for bit, to Hugging Face's x * cos + rotate_half(x) * sin (rotate_half = [-x2, x1]):
    rolling by half the rotated part gives [x2, x1], and the sign sits in the table instead of a
    negation. With R < D (partial rotary, Phi-4-mini) only the first R dimensions turn."""
    R = cos.shape[-1]
    if R == x.shape[-1]:
        return x * cos + x.roll(R // 2, dims=-1) * signed_sin
    turned = x[..., :R]  # (B, T, heads, R)
    return torch.cat((turned * cos + turned.roll(R // 2, dims=-1) * signed_sin, x[..., R:]), dim=-1)


class RotaryTables:
    """cos, signed sin (positions, 1, R) per rope kind, in the compute dtype, grown by doubling."""

    def __init__(self, config):
        self.config = config
        self._tables: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def kind_at(self, layer_kind: str, end: int | None) -> str:
        """The table a layer of `layer_kind` reads for a call whose last position is end - 1
        (end None: decided per step, see at_position)."""
        rope = self.config.rope
        if layer_kind == "global" and rope.rope_type == "longrope" and end is not None \
                and end > rope.original_max_position_embeddings:
            return "long"
        return layer_kind

    def span(self, kind: str, start: int, length: int, dtype, global_inv_freq: torch.Tensor):
        """cos, signed sin (T, 1, R) for positions [start, start + length)."""
        cos, sin = self._table(kind, start + length, dtype, global_inv_freq)
        return cos[start:start + length], sin[start:start + length]

    def at_position(self, kind: str, position: torch.Tensor):
        """cos, signed sin (1, 1, R) for a position held in a (1,) tensor (static step; tables from prepare)."""
        cos_table, sin_table = self._tables[kind]
        cos, sin = cos_table.index_select(0, position), sin_table.index_select(0, position)  # (1, 1, R)
        if kind == "global" and self.config.rope.rope_type == "longrope":
            long = position + 1 > self.config.rope.original_max_position_embeddings  # (1,)
            long_cos, long_sin = self._tables["long"]
            cos = torch.where(long, long_cos.index_select(0, position), cos)
            sin = torch.where(long, long_sin.index_select(0, position), sin)
        return cos, sin

    def prepare(self, kinds, size: int, dtype, global_inv_freq: torch.Tensor):
        """Build every table a static step may read, so the step itself never grows one."""
        for kind in kinds:
            self._table(kind, size, dtype, global_inv_freq)
            if kind == "global" and self.config.rope.rope_type == "longrope":
                self._table("long", size, dtype, global_inv_freq)

    def _table(self, kind: str, end: int, dtype, global_inv_freq: torch.Tensor):
        table = self._tables.get(kind)
        device = global_inv_freq.device
        if table is None or table[0].shape[0] < end or table[0].dtype != dtype or table[0].device != device:
            size = max(end, 256, 2 * table[0].shape[0] if table is not None else 0)
            rope = self.config.local_rope if kind == "local" else self.config.rope
            if kind == "global":
                inv_freq = global_inv_freq  # what the loader set (a GGUF file may store its own)
            else:
                inv_freq = inverse_frequencies(rope, self.config.rotary_dim, long=kind == "long").to(device)
            positions = torch.arange(size, device=device, dtype=torch.float32)
            freqs = torch.outer(positions, inv_freq.float())  # (size, R/2)
            scale = attention_factor(rope)  # 1.0 but for YaRN and LongRoPE
            cos, sin = freqs.cos() * scale, freqs.sin() * scale  # (size, R/2)
            cos = torch.cat((cos, cos), dim=-1).to(dtype)  # (size, R)
            signed_sin = torch.cat((-sin, sin), dim=-1).to(dtype)  # (size, R)
            table = self._tables[kind] = (cos[:, None, :], signed_sin[:, None, :])  # (size, 1, R) each
        return table
