"""Many heads, many jobs: each head's attention pattern on one text, summarised and named.

From attention weights (L, H, T, T), every head gets the mean weight its queries put on the
token just before them, on the first token, and on themselves, and how spread out its
attention is (entropy over the visible keys, 0 = one key, 1 = uniform). A head is then a
"previous-token" head, a "first-token" sink, a "self" head, "broad", or "mixed", by the
thresholds below. Queries 0 and 1 are left out: there the first, previous and own token
coincide. It computes no attention itself.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import EngineError

STRONG = 0.5  # a head putting at least this much weight on one kind of key is named for it
BROAD = 0.75  # normalised entropy at or above this: attention spread over many tokens
KINDS = ("previous-token", "first-token", "self", "broad", "mixed")


@dataclass(frozen=True)
class HeadSummary:
    layer: int  # 0-based
    head: int  # 0-based
    kind: str  # one of KINDS
    previous: float  # mean weight on the token just before the query
    first: float  # mean weight on the first token (an attention sink when high)
    own: float  # mean weight on the query's own token
    entropy: float  # mean normalised entropy of the query's attention, 0..1
    mean_distance: float  # mean number of tokens back the attention reaches (weighted)


def summarize_heads(weights: torch.Tensor) -> list[HeadSummary]:
    """weights (L, H, T, T), rows summing to 1 over keys at or before the query -> one summary per head,
    layer by layer."""
    if weights.dim() != 4 or weights.shape[-1] != weights.shape[-2]:
        raise EngineError("attention weights must be (layers, heads, T, T)")
    L, H, T, _ = weights.shape
    if T < 3:
        raise EngineError("the text needs at least 3 tokens to tell heads apart; type a longer text")
    w = weights.float()[..., 2:, :]  # (L, H, Q, T) queries 2 .. T-1
    q = torch.arange(2, T)  # (Q,) query positions
    previous = w[..., torch.arange(T - 2), q - 1].mean(-1)  # (L, H)
    first = w[..., 0].mean(-1)  # (L, H)
    own = w[..., torch.arange(T - 2), q].mean(-1)  # (L, H)
    plogp = torch.where(w > 0, w * w.clamp_min(1e-30).log(), torch.zeros_like(w))
    entropy = (-plogp.sum(-1) / (q + 1).float().log()).mean(-1)  # (L, H), normalised by log(visible keys)
    distance = (q[:, None] - torch.arange(T)[None, :]).clamp_min(0).float()  # (Q, T)
    reach = (w * distance).sum(-1).mean(-1)  # (L, H)
    out = []
    for layer in range(L):
        for head in range(H):
            scores = (previous[layer, head].item(), first[layer, head].item(), own[layer, head].item())
            out.append(HeadSummary(layer, head, classify(*scores, entropy[layer, head].item()), *scores,
                                   entropy[layer, head].item(), reach[layer, head].item()))
    return out


def classify(previous: float, first: float, own: float, entropy: float) -> str:
    """The name of a head from its three key weights and its normalised entropy."""
    named = max((previous, "previous-token"), (first, "first-token"), (own, "self"))
    if named[0] >= STRONG:
        return named[1]
    return "broad" if entropy >= BROAD else "mixed"
