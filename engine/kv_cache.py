"""A static key/value cache: allocated once per session, written in place.

Knows nothing about sampling or tokens; the model writes each layer's keys and values at
the positions it is given and reads back the filled prefix as a view (no copy, no cat). Every
layer keeps every position, sliding-window layers included: which keys a query may see is the
attention's rule (layers/span.py), not the cache's. It also keeps the cached token ids, so a model
that must re-encode its prefix (LongRoPE switching factors) can.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class KVCache:
    keys: list[torch.Tensor]  # per layer: (B, n_kv_heads, max_len, head_dim)
    values: list[torch.Tensor]  # per layer: (B, n_kv_heads, max_len, head_dim)
    max_len: int
    ids: torch.Tensor | None = None  # (B, max_len) token ids of the cached positions (for re-encoding them)
    long_rope: bool = False  # LongRoPE: the cached keys were computed with the long factors

    @classmethod
    def allocate(cls, n_layers, batch, n_kv_heads, max_len, head_dim, dtype, device) -> "KVCache":
        shape = (batch, n_kv_heads, max_len, head_dim)
        keys = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(n_layers)]
        values = [torch.zeros(shape, dtype=dtype, device=device) for _ in range(n_layers)]
        ids = torch.zeros(batch, max_len, dtype=torch.long, device=device)
        return cls(keys, values, max_len, ids)

    def record_ids(self, start, ids: torch.Tensor):
        """Remember the token ids (B|1, T) written from `start` (an int, or a (1,) position tensor)."""
        if isinstance(start, torch.Tensor):
            self.ids.index_copy_(1, start, ids.expand(self.ids.shape[0], -1))
        else:
            self.ids[:, start:start + ids.shape[1]] = ids

    def nbytes(self) -> int:
        return sum(t.numel() * t.element_size() for t in self.keys + self.values)

    def write(self, layer: int, start: int, k: torch.Tensor, v: torch.Tensor):
        """Store k, v (B|1, n_kv, T, D) at positions [start, start+T); return the filled views (B, n_kv, start+T, D)."""
        end = start + k.shape[2]
        self.keys[layer][:, :, start:end] = k
        self.values[layer][:, :, start:end] = v
        return self.keys[layer][:, :, :end], self.values[layer][:, :, :end]

    def write_at(self, layer: int, position: torch.Tensor, k: torch.Tensor, v: torch.Tensor):
        """Store one step's k, v (B, n_kv, 1, D) at a position held in a (1,) tensor; return the whole buffers."""
        self.keys[layer].index_copy_(2, position, k)
        self.values[layer].index_copy_(2, position, v)
        return self.keys[layer], self.values[layer]

    def update(self, layer: int, start, k: torch.Tensor, v: torch.Tensor):
        """Store k, v (B, n_kv, T, D) from `start` and return the keys/values attention reads: the filled
        prefix (B, n_kv, start+T, D) for an int start, the whole buffers for a (1,) position tensor
        (the static step). A shared prefix run once (batch 1) into a cache sized for a batch reads
        back only its own row."""
        if isinstance(start, torch.Tensor):
            return self.write_at(layer, start, k, v)
        keys, values = self.write(layer, start, k, v)
        if keys.shape[0] > k.shape[0]:
            keys, values = keys[:k.shape[0]], values[:k.shape[0]]
        return keys, values
