"""Choosing the next token from logits: pure functions over one row of logits.

Order follows transformers: repetition penalty, then temperature, top-k, top-p, min-p.
Randomness only through the explicit `torch.Generator` passed in. Logprobs reported to
the user are from the model's unmodified distribution. No model, no tokenizer here.
"""
from __future__ import annotations

import torch

from .types import Sampling


def apply_repetition_penalty(logits: torch.Tensor, seen: torch.Tensor, penalty: float) -> torch.Tensor:
    """logits (V,), seen (N,) ids. Divide positive and multiply negative logits of seen tokens."""
    if penalty == 1.0 or seen.numel() == 0:
        return logits
    logits = logits.clone()
    picked = logits[seen]
    logits[seen] = torch.where(picked < 0, picked * penalty, picked / penalty)
    return logits


def filter_logits(logits: torch.Tensor, s: Sampling) -> torch.Tensor:
    """logits (V,) already divided by temperature -> logits with excluded tokens at -inf."""
    if s.top_k and 0 < s.top_k < logits.shape[-1]:
        kth = torch.topk(logits, s.top_k).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if s.top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=False)
        cumulative = sorted_logits.softmax(-1).cumsum(-1)  # (V,) ascending
        remove_sorted = cumulative <= (1 - s.top_p)
        remove_sorted[-1] = False  # always keep the most likely token
        remove = torch.zeros_like(remove_sorted).scatter(0, order, remove_sorted)
        logits = logits.masked_fill(remove, float("-inf"))
    if s.min_p > 0.0:
        probs = logits.softmax(-1)
        threshold = probs.max() * s.min_p
        logits = logits.masked_fill(probs < threshold, float("-inf"))
    return logits


def choose(logits: torch.Tensor, s: Sampling, generator: torch.Generator | None, seen: torch.Tensor) -> torch.Tensor:
    """Pick the next token from logits (V,) in fp32; returns a (1,) id tensor on the logits' device
    (no host sync, so a GPU can go on to the next step before the host reads the id)."""
    logits = apply_repetition_penalty(logits, seen, s.repetition_penalty)
    if s.temperature <= 0.0:
        return torch.argmax(logits, dim=-1, keepdim=True)  # (1,)
    logits = filter_logits(logits / s.temperature, s)
    probs = logits.softmax(-1)
    return torch.multinomial(probs, 1, generator=generator)  # (1,)
