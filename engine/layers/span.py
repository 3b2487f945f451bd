"""What the tokens of one forward call share, built once per call and read by every layer.

A `Span` holds where the tokens sit (`start`: an int, or a (1,) device tensor in the static
decode step), the cache, the rotary tables per rope kind and, per sliding window (None: full
attention), a `KeyRange` saying which cached keys the queries may see. The attention rule itself,
causal with an optional sliding window, is written once: `window_start`. Nothing here computes
attention.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..kv_cache import KVCache


def window_start(query_position, window: int | None):
    """The earliest key position a query at `query_position` may see: 0, or the start of its sliding
    window (keys at query - window + 1 .. query). Works on ints and on tensors alike."""
    if window is None:
        return 0
    return query_position - window + 1


def visible_keys(query_positions: torch.Tensor, key_positions: torch.Tensor, window: int | None) -> torch.Tensor:
    """Boolean mask of the keys each query may see: at or before it, and inside its window."""
    mask = key_positions <= query_positions
    if window is not None:
        mask = mask & (key_positions >= window_start(query_positions, window))
    return mask


@dataclass(frozen=True)
class KeyRange:
    """Which cached keys a span's queries may see."""
    mask: torch.Tensor | None = None  # (T, S) or (1, S) bool; None: causal from position 0, or every key from `first`
    first: int = 0  # keys before this index are outside the window (one-token step): attend to keys[first:]


@dataclass
class Span:
    start: int | torch.Tensor  # position of the first token; a (1,) device tensor in the static step
    length: int  # tokens in this call
    cache: KVCache | None  # keys/values of earlier positions, written in place
    rotary: dict  # rope kind -> (cos, signed sin) (T, 1, R)
    keys: dict  # sliding window (None: full attention) -> KeyRange
    capture: list | None = None  # attention weights (B, H, T, S) per layer are appended here

    @property
    def static(self) -> bool:
        return isinstance(self.start, torch.Tensor)


def key_range(start: int, length: int, window: int | None, device, explicit: bool) -> KeyRange:
    """The KeyRange for `length` queries from `start` (an int position); explicit: always give a mask."""
    end = start + length
    if not explicit:
        if length == 1:
            return KeyRange(first=max(0, window_start(start, window)))  # one query sees a contiguous tail
        if start == 0 and (window is None or end <= window):
            return KeyRange()  # plain causal attention from position 0 is exact
    query_pos = torch.arange(start, end, device=device)[:, None]  # (T, 1)
    key_pos = torch.arange(0, end, device=device)[None, :]  # (1, S)
    return KeyRange(mask=visible_keys(query_pos, key_pos, window))  # (T, S)


def static_key_range(position: torch.Tensor, key_positions: torch.Tensor, window: int | None) -> KeyRange:
    """The KeyRange for one query at a position held in a (1,) tensor, over the whole cache (no host sync)."""
    return KeyRange(mask=visible_keys(position, key_positions, window)[None, :])  # (1, S)
