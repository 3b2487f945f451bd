"""Deterministic text rules for generated answers: normalization, answer extraction,
abstention detection, and scoring a generation against a suite item's `rule`.

Pure functions of strings; no model, no randomness, no locale. The exact behaviour is part
of each run's meaning, so changing it changes results: document any change in
`evals/suites/README.md` and bump the affected suites' versions.

Rules, in order of strictness:
- exact: the first non-empty line of the output, stripped, equals a target exactly.
- normalized: `extract_answer(output)` equals `normalize(target)` for some target, or the
  normalized first line starts with the normalized target followed by a word boundary.
- regex: `re.search(pattern, output)` finds a match (use `^`, `(?i)`, ... in the pattern).
- abstention: `is_abstention(output)`; score 1 means the model declined.
"""

from __future__ import annotations

import re
import unicodedata

ARTICLES = {"a", "an", "the"}
# "Answer: X", "The answer is X", "A: X" -- the last such marker wins (models restate).
ANSWER_MARKER = re.compile(r"(?:\banswer\s*(?:is|:)|^\s*a\s*:)\s*", re.IGNORECASE | re.MULTILINE)
NUMBER = re.compile(r"^[-+]?(?:\d+(?:\.\d*)?|\.\d+)")
SENTENCE_END = re.compile(r"[.!?](?=\s|$)")

# Phrases that mean "I won't / can't answer this" or "that thing doesn't exist". Matched on
# the lowercased output with curly apostrophes straightened, anywhere in the first 400
# characters (a decline comes first; a later "I don't know" inside an invented biography
# should not rescue it).
ABSTENTION_PHRASES = (
    "i don't know", "i do not know", "i'm not sure", "i am not sure", "not sure",
    "i have no comment", "no comment", "i cannot answer", "i can't answer", "cannot be answered",
    "i'm not aware", "i am not aware", "not aware of any", "i'm not familiar", "i am not familiar",
    "not familiar with", "never heard of", "i couldn't find", "i could not find", "i can't find",
    "i cannot find", "no information", "no record", "no reliable information", "i don't have information",
    "i do not have information", "does not exist", "doesn't exist", "did not exist", "didn't exist",
    "there is no such", "there was no such", "no such", "not a real", "isn't a real", "is not a real",
    "fictional", "fictitious", "made up", "made-up", "unable to", "i'm unable", "i am unable",
    "there is no known", "there is no evidence", "can't be determined",
    "cannot be determined", "not enough information",
)
ABSTENTION_WINDOW = 400


def normalize(text: str) -> str:
    """NFKC, lowercase, "1,000" -> "1000", punctuation -> space, drop a/an/the, single spaces."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"(?<=\d),(?=\d{3}\b)", "", text)
    text = re.sub(r"(?<=\d)\.(?=\d)", "\ue000", text)  # keep decimal points (private-use mark)
    text = "".join(" " if unicodedata.category(c)[0] in "PS" else c for c in text)
    text = text.replace("\ue000", ".")
    words = [w for w in text.split() if w not in ARTICLES]
    return " ".join(words)


def first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return ""


def extract_answer(text: str) -> str:
    """The short answer inside a generation, normalized.

    1. After the last answer marker ("Answer:", "the answer is", a line starting "A:"), if any.
    2. The first non-empty line, cut at the first sentence end (a "." before a digit is kept).
    3. If that starts with a number, the number alone, canonical ("3.50" -> "3.5", "7." -> "7").
    4. Otherwise `normalize` of it. An empty output gives "".
    """
    markers = list(ANSWER_MARKER.finditer(text))
    if markers:
        text = text[markers[-1].end():]
    line = first_line(text)
    end = SENTENCE_END.search(line)
    if end:
        line = line[: end.start()]
    line = re.sub(r"(?<=\d),(?=\d{3}\b)", "", line.strip().lstrip("*_`\"'(["))
    number = NUMBER.match(line)
    if number:
        return _canonical_number(number.group(0))
    return normalize(line)


def _canonical_number(text: str) -> str:
    text = text.lstrip("+")
    if "." in text:
        text = text.rstrip("0").rstrip(".") or "0"
    if text in ("-0", ""):
        text = "0"
    return text


def is_abstention(text: str) -> bool:
    """True when the output declines or says the thing does not exist; an empty output counts."""
    window = text[:ABSTENTION_WINDOW].lower().replace("\u2019", "'").replace("\u2018", "'")
    if not window.strip():
        return True
    return any(phrase in window for phrase in ABSTENTION_PHRASES)


def targets(rule: dict) -> list[str]:
    target = rule.get("target")
    if target is None:
        return []
    return [target] if isinstance(target, str) else list(target)


def score_generation(rule: dict, output: str) -> dict:
    """Score one generation: {"score": 0.0|1.0, "extracted": str, ...} for the rule's type."""
    kind = rule["type"]
    extracted = extract_answer(output)
    if kind == "exact":
        hit = first_line(output) in [t.strip() for t in targets(rule)]
    elif kind == "normalized":
        line = normalize(first_line(output))
        hit = False
        for t in targets(rule):
            nt = normalize(t)
            if nt and (extracted == nt or line == nt or line.startswith(nt + " ")):
                hit = True
                break
    elif kind == "regex":
        hit = re.search(rule["pattern"], output) is not None
    elif kind == "abstention":
        abstained = is_abstention(output)
        return {"score": float(abstained), "abstained": abstained, "extracted": extracted}
    else:  # validated by suite.py
        raise ValueError(f"unknown rule type {kind!r}")
    return {"score": float(hit), "extracted": extracted}


def modal_answer(answers: list[str]) -> tuple[str, float]:
    """The most common answer (ties: the one seen first) and the share of answers equal to it."""
    if not answers:
        return "", 0.0
    counts: dict[str, int] = {}
    for a in answers:
        counts[a] = counts.get(a, 0) + 1
    best = max(counts, key=lambda a: (counts[a], -answers.index(a)))
    return best, counts[best] / len(answers)
