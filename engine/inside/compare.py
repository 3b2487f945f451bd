"""The same text under two precisions (e.g. fp32 and nf4 of one checkpoint), token by token.

For each token of the text after the first, the log-probability each model gives it and the
difference, each model's top choice at that position, and the positions where the top choice
changes: where quantization would have changed greedy output. Both models must share a
tokenizer (the same checkpoint loaded twice). It loads nothing itself.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from ..errors import EngineError
from .checks import checked_ids


@dataclass(frozen=True)
class TokenComparison:
    position: int  # index of the token in the text (>= 1)
    id: int
    text: str
    logprob_a: float
    logprob_b: float
    top_a: tuple[int, str, float]  # model A's most likely token here: id, text, probability
    top_b: tuple[int, str, float]

    @property
    def difference(self) -> float:
        """logprob_b - logprob_a (negative: B finds the text less likely)."""
        return self.logprob_b - self.logprob_a

    @property
    def top_changed(self) -> bool:
        return self.top_a[0] != self.top_b[0]


@dataclass(frozen=True)
class PrecisionComparison:
    label_a: str  # e.g. "fp32"
    label_b: str
    tokens: tuple[TokenComparison, ...]
    kl_mean: float  # mean KL(A || B) of the next-token distributions over the positions

    @property
    def changed(self) -> list[int]:
        """Indices into `tokens` where the top choice differs."""
        return [i for i, t in enumerate(self.tokens) if t.top_changed]

    @property
    def mean_abs_difference(self) -> float:
        return sum(abs(t.difference) for t in self.tokens) / max(len(self.tokens), 1)

    @property
    def max_abs_difference(self) -> float:
        return max((abs(t.difference) for t in self.tokens), default=0.0)


@torch.inference_mode()
def compare_precisions(model_a, model_b, ids) -> PrecisionComparison:
    ids = checked_ids(model_a, ids)
    if len(ids) < 2:
        raise EngineError("the text needs at least two tokens to compare predictions; type a longer text")
    if model_a.tokenizer.vocab_size != model_b.tokenizer.vocab_size or \
            model_a.tokenizer.encode("The quick brown fox") != model_b.tokenizer.encode("The quick brown fox"):
        raise EngineError("the two models have different tokenizers; compare two precisions of the same model")
    a = model_a.logits([ids])[0].log_softmax(-1)  # (T, V) fp32
    b = model_b.logits([ids])[0].to(a.device).log_softmax(-1)  # (T, V)
    vocab = min(a.shape[-1], b.shape[-1])
    a, b = a[:-1, :vocab], b[:-1, :vocab]  # (T-1, V) predictions of tokens 1 .. T-1
    target = torch.tensor(ids[1:], device=a.device)[:, None]  # (T-1, 1)
    lp_a, lp_b = a.gather(1, target)[:, 0].tolist(), b.gather(1, target)[:, 0].tolist()
    best_a, best_b = a.max(-1), b.max(-1)
    kl = (a.exp() * (a - b)).sum(-1)  # (T-1,)
    text = model_a.tokenizer.token_text
    tokens = []
    for t in range(len(ids) - 1):
        ia, ib = int(best_a.indices[t]), int(best_b.indices[t])
        tokens.append(TokenComparison(
            t + 1, ids[t + 1], text(ids[t + 1]), lp_a[t], lp_b[t],
            (ia, text(ia), float(best_a.values[t].exp())), (ib, text(ib), float(best_b.values[t].exp()))))
    return PrecisionComparison(model_a.info.precision, model_b.info.precision, tuple(tokens), float(kl.mean()))
