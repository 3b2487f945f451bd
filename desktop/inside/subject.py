"""What the Inside page looks at: a text (typed, or an eval item's prompt and the model's answer)
and how it becomes token ids for the loaded model.

`Subject` is plain data; `subject_tokens` runs on the model worker and returns the ids (at most
`limit`, the trailing ones), each token's text and the span of the answer's tokens. No Qt here.
"""
from __future__ import annotations

from dataclasses import dataclass

MAX_TOKENS = 256  # attention, the logit lens and head summaries cover at most this many trailing tokens


@dataclass(frozen=True)
class Subject:
    text: str
    special_tokens: bool = True  # add what the tokenizer adds to a text (BOS for Llama-style ones)
    answer_start: int | None = None  # character where the model's answer begins (an eval item), if any
    title: str = "the text"


@dataclass(frozen=True)
class SubjectTokens:
    ids: list[int]
    texts: list[str]  # each token decoded on its own
    span: tuple[int, int]  # [start, end) of the answer's tokens (the whole text when there is no answer)
    dropped: int  # leading tokens left out to stay within the limit


def subject_tokens(model, subject: Subject, limit: int = MAX_TOKENS) -> SubjectTokens:
    from engine import EngineError

    encoding = model.tokenizer.backend.encode(subject.text, add_special_tokens=subject.special_tokens)
    ids = list(encoding.ids)
    if not ids:
        raise EngineError("the text has no tokens; type some text first")
    start = 0
    if subject.answer_start is not None:
        start = next((i for i, (s, e) in enumerate(encoding.offsets) if e > subject.answer_start and e > s),
                     len(ids))
    dropped = max(0, len(ids) - limit)
    ids = ids[dropped:]
    texts = [model.tokenizer.token_text(i) for i in ids]
    return SubjectTokens(ids, texts, (max(0, start - dropped), len(ids)), dropped)
