""""Check this answer": does the model say the same thing when asked again?

SelfCheckGPT's idea (Manakul et al., 2023) without a second model: sample N more answers to the
same conversation (temperature > 0, seeded), then score each sentence of the reply by how much
of it the samples contain. A fact the model knows tends to come back in every sample; a
made-up one changes from sample to sample. Two scores per sentence:
- support: the share of the sentence's content words found in a sample, averaged over samples
  (0 = no sample mentions any of it, 1 = every sample has all of it);
- SelfCheck-Unigram: the mean and max surprise (-log p) of the sentence's words under a unigram
  model counted from the samples and the reply (higher = less backed by the samples).
And the reply's low-probability spans: runs of tokens the model itself gave under LOW_P.
Word overlap cannot see negation or paraphrase ("is" vs "is not"); the result says so.
Nothing here stores the result (the history does) or draws it.
"""
from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Callable

from ..errors import EngineError
from ..sampling import Sampling

LOW_P = 0.1  # a reply token the model gave less than this probability is "low probability"
SUPPORTED = 0.5  # sentences with less support than this are marked unsupported
STOP_WORDS = frozenset("""a an the and or but if then so of to in on at by for with from as is are was were be been
being am do does did have has had it its this that these those there here i you he she we they me him her us them my
your his our their what which who whom whose when where why how not no yes all any some can could will would shall
should may might must also just very than too into out up down over about after before""".split())
METHOD = ("word overlap with sampled answers (SelfCheckGPT-style, no second model); it cannot see negation or "
          "paraphrase, so read unsupported as 'the model does not say this consistently', not as 'false'")


@dataclass(frozen=True)
class SentenceSupport:
    text: str
    start: int  # character span in the reply
    end: int
    support: float  # mean over samples of the share of its content words found in the sample
    per_sample: tuple[float, ...]
    unigram_mean: float  # SelfCheck-Unigram: mean -log p of its words
    unigram_max: float  # and the largest

    @property
    def supported(self) -> bool:
        return self.support >= SUPPORTED


@dataclass(frozen=True)
class LowSpan:
    start: int  # token index in the reply
    end: int  # exclusive
    text: str
    min_prob: float
    char_start: int = 0  # the span's characters in the reply text
    char_end: int = 0


@dataclass(frozen=True)
class AnswerCheck:
    answer: str
    samples: tuple[str, ...]
    sentences: tuple[SentenceSupport, ...]
    low_spans: tuple[LowSpan, ...]
    agreement: float  # mean pairwise overlap (Jaccard of content words) among the samples
    answer_agreement: float  # mean overlap of the reply with each sample
    settings: dict = field(default_factory=dict)  # how the samples were drawn (temperature, top_p, seeds, ...)
    method: str = METHOD

    @property
    def unsupported(self) -> list[SentenceSupport]:
        return [s for s in self.sentences if not s.supported]

    def summary(self) -> str:
        n = len(self.sentences)
        return (f"{n - len(self.unsupported)} of {n} sentence{'s' if n != 1 else ''} supported by "
                f"{len(self.samples)} samples · samples agree {self.agreement:.0%} · reply agrees "
                f"{self.answer_agreement:.0%} · {len(self.low_spans)} low-probability span"
                f"{'s' if len(self.low_spans) != 1 else ''}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "AnswerCheck":
        return cls(
            answer=data["answer"], samples=tuple(data["samples"]),
            sentences=tuple(SentenceSupport(**{**s, "per_sample": tuple(s["per_sample"])}) for s in data["sentences"]),
            low_spans=tuple(LowSpan(**s) for s in data["low_spans"]), agreement=data["agreement"],
            answer_agreement=data["answer_agreement"], settings=dict(data.get("settings") or {}),
            method=data.get("method", METHOD))


# ---- scoring on plain text ------------------------------------------------------------------------
def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of text: ends at . ! ? (followed by a space or the end) or a line break."""
    spans, start = [], 0
    for match in re.finditer(r"[.!?]+(?=\s|$)|\n+", text):
        spans.append((start, match.end()))
        start = match.end()
    spans.append((start, len(text)))
    out = []
    for s, e in spans:
        while s < e and text[s].isspace():
            s += 1
        while e > s and text[e - 1].isspace():
            e -= 1
        if re.search(r"\w", text[s:e]):
            out.append((s, e))
    return out


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def content_words(text: str) -> set[str]:
    """The words that carry the claim (stop words left out; all words if nothing else is left)."""
    all_words = words(text)
    return {w for w in all_words if w not in STOP_WORDS} or set(all_words)


def overlap_support(sentence: str, sample: str) -> float:
    """Share of the sentence's content words that occur in the sample (1.0 for a sentence with no words)."""
    wanted = content_words(sentence)
    if not wanted:
        return 1.0
    return len(wanted & set(words(sample))) / len(wanted)


def jaccard(a: str, b: str) -> float:
    x, y = content_words(a), content_words(b)
    return len(x & y) / len(x | y) if x | y else 1.0


def unigram_surprise(sentence: str, answer: str, samples: list[str]) -> tuple[float, float]:
    """SelfCheck-Unigram: mean and max -log p of the sentence's words under add-one unigram counts of
    the samples and the reply."""
    counts = Counter(w for text in [answer, *samples] for w in words(text))
    total, vocab = sum(counts.values()), len(counts) + 1
    surprise = [-math.log((counts[w] + 1) / (total + vocab)) for w in words(sentence)]
    return (sum(surprise) / len(surprise), max(surprise)) if surprise else (0.0, 0.0)


def score_sentences(answer: str, samples: list[str]) -> list[SentenceSupport]:
    out = []
    for start, end in split_sentences(answer):
        sentence = answer[start:end]
        per_sample = tuple(overlap_support(sentence, sample) for sample in samples)
        support = sum(per_sample) / len(per_sample) if per_sample else 0.0
        out.append(SentenceSupport(sentence, start, end, support, per_sample,
                                   *unigram_surprise(sentence, answer, samples)))
    return out


def agreement(texts: list[str]) -> float:
    """Mean pairwise overlap of the texts (1.0 for fewer than two)."""
    pairs = list(itertools.combinations(texts, 2))
    return sum(jaccard(a, b) for a, b in pairs) / len(pairs) if pairs else 1.0


def low_probability_spans(pieces: list[str], logprobs: list[float], threshold: float = LOW_P) -> list[LowSpan]:
    """Runs of consecutive tokens each under `threshold` probability (pieces: each token's text)."""
    offsets = list(itertools.accumulate((len(p) for p in pieces), initial=0))  # character where each token starts
    spans, start = [], None
    for i, lp in enumerate([*logprobs, 0.0]):  # a sentinel closes the last run
        low = i < len(logprobs) and math.exp(lp) < threshold
        if low and start is None:
            start = i
        elif not low and start is not None:
            text = "".join(pieces[start:i])
            if text.strip():
                spans.append(LowSpan(start, i, text, min(math.exp(x) for x in logprobs[start:i]),
                                     offsets[start], offsets[i]))
            start = None
    return spans


# ---- on a model -------------------------------------------------------------------------------------
def check_answer(model, messages: list[dict], answer_ids: list[int], n: int = 5, temperature: float = 0.8,
                 top_p: float = 0.95, seed: int = 0, max_new_tokens: int | None = None,
                 progress: Callable[[int, int], None] | None = None) -> AnswerCheck:
    """Sample n answers to `messages` (the conversation before the reply) and score the reply
    (its token ids, as generated) against them. progress(i, n) is called before each sample (it may
    raise to stop the check)."""
    if n < 2:
        raise EngineError("check an answer with at least 2 samples")
    if temperature <= 0:
        raise EngineError("samples need a temperature above 0 (at 0 every sample would be the same answer)")
    tokenizer = model.tokenizer
    ids = [int(i) for i in answer_ids]
    while ids and ids[-1] in tokenizer.eos_ids:
        ids.pop()
    if not ids:
        raise EngineError("the reply is empty; there is nothing to check")
    answer = tokenizer.decode(ids, skip_special_tokens=True)
    budget = max_new_tokens or min(max(2 * len(ids), 32), 512)
    samples = []
    for i in range(n):
        if progress is not None:
            progress(i, n)
        sampling = Sampling(temperature=temperature, top_p=top_p, max_new_tokens=budget, seed=seed + i)
        samples.append(model.chat(messages, sampling, truncate=True).text().strip())
    prompt = model.chat_ids(messages)
    keep = max(1, model.info.context_length - len(ids))
    logprobs = list(model.continuation_logprobs(prompt[-keep:], [ids])[0].token_logprobs)
    pieces = _pieces(tokenizer, ids)
    settings = {"n": n, "temperature": temperature, "top_p": top_p, "seeds": [seed + i for i in range(n)],
                "max_new_tokens": budget, "model": model.info.name, "precision": model.info.precision}
    return AnswerCheck(answer, tuple(samples), tuple(score_sentences(answer, samples)),
                       tuple(low_probability_spans(pieces, logprobs)), agreement(samples),
                       sum(jaccard(answer, s) for s in samples) / n, settings)


def _pieces(tokenizer, ids: list[int]) -> list[str]:
    """Each token's share of the decoded text (whole characters; a split character goes to its last token)."""
    out, before = [], ""
    for i in range(len(ids)):
        text = tokenizer.decode(ids[:i + 1], skip_special_tokens=True)
        if text.endswith("\ufffd"):
            out.append("")
            continue
        out.append(text[len(before):])
        before = text
    return out
