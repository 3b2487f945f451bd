"""Choosing the next token from logits: the settings (`Sampling`) and pure functions over one row of logits.

Order follows transformers: repetition penalty, then temperature, top-k, top-p, min-p.
Randomness only through the explicit `torch.Generator` passed in. Logprobs reported to
the user are from the model's unmodified distribution. No model, no tokenizer here.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields

import torch

_DISTRIBUTION = {"part": "distribution"}


@dataclass(frozen=True)
class Sampling:
    """How the next token is chosen and when generation ends. Each field's metadata says its part:
    "distribution" (reshapes the next-token distribution), "length", "seed" or "stop"; the name
    lists below are derived from it, so a new field is added here only."""

    temperature: float = field(default=0.0, metadata=_DISTRIBUTION)  # 0 means greedy
    top_k: int = field(default=0, metadata=_DISTRIBUTION)  # keep the k most likely tokens; 0 = off
    top_p: float = field(default=1.0, metadata=_DISTRIBUTION)  # keep the smallest set with this much probability; 1 = off
    min_p: float = field(default=0.0, metadata=_DISTRIBUTION)  # drop tokens below min_p x the top probability; 0 = off
    repetition_penalty: float = field(default=1.0, metadata=_DISTRIBUTION)  # >1 discourages tokens already seen
    max_new_tokens: int = field(default=256, metadata={"part": "length"})  # stop after this many generated tokens
    seed: int | None = field(default=None, metadata={"part": "seed"})  # same seed and settings give the same tokens
    stop: tuple[str, ...] = field(default=(), metadata={"part": "stop"})  # stop when one of these strings appears
    stop_on_eos: bool = field(default=True, metadata={"part": "stop"})  # stop at the model's end-of-sequence tokens

    def __post_init__(self):
        object.__setattr__(self, "stop", tuple(self.stop))
        checks = (
            (self.temperature >= 0, "temperature must be 0 (greedy) or more"),
            (self.top_k >= 0, "top_k must be 0 (off) or more"),
            (0 < self.top_p <= 1, "top_p must be in (0, 1]; 1 turns it off"),
            (0 <= self.min_p <= 1, "min_p must be in [0, 1]; 0 turns it off"),
            (self.repetition_penalty > 0, "repetition_penalty must be above 0; 1 turns it off"),
            (self.max_new_tokens >= 0, "max_new_tokens must be 0 or more"),
        )
        for ok, message in checks:
            if not ok:
                from .errors import EngineError

                raise EngineError(f"bad sampling setting: {message}")

    def to_dict(self) -> dict:
        return {**asdict(self), "stop": list(self.stop)}

    @classmethod
    def from_dict(cls, data: dict) -> "Sampling":
        """From stored or passed settings: unknown keys are dropped, None means the default."""
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__ and v is not None})


SAMPLING_FIELDS = tuple(f.name for f in fields(Sampling))  # every setting
DISTRIBUTION_FIELDS = tuple(f.name for f in fields(Sampling) if f.metadata["part"] == "distribution")
NUMBER_FIELDS = tuple(f.name for f in fields(Sampling) if f.metadata["part"] != "stop")  # what a user sets as numbers


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
