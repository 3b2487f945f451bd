"""Deterministic text rules for generated answers: normalization, answer extraction,
matching a reply against accepted answers, clustering sampled replies, abstention detection,
and scoring a generation against a suite item's `rule`.

Pure functions of strings; no model, no randomness, no locale. The exact behaviour is part
of each run's meaning, so changing it changes results: document any change in
`evals/suites/README.md` and bump the affected suites' versions. The rules are checked
against people's judgments of real replies in `tests/evals/fixtures/labelled_replies.jsonl`.

Rules, in order of strictness:
- exact: the first non-empty line of the output, stripped, equals a target exactly.
- normalized: `find_accepted(output, targets)` finds a target in the reply's answer span as
  a whole word or phrase (after `answer_words`: normalized, number words as digits), not
  right after a negation ("not Paris").
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
    "i don't know", "i do not know", "i know not", "i'm not sure", "i am not sure", "not sure",
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


UNITS = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen".split())}
TENS = {w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), start=2)}
SCALES = {"hundred": 100, "thousand": 1000, "million": 1000000}
NEGATIONS = {"not", "never", "no", "t"}  # "t": what normalize leaves of "isn't", "wasn't"
# Words that say nothing about which answer a reply gives; left out of a reply's cluster key.
FILLER = {"is", "are", "was", "were", "be", "it", "its", "this", "that", "i", "think", "believe", "answer",
          "of", "in", "on", "at", "by", "to", "for", "and", "or", "our", "called", "known", "as", "which", "who",
          "what", "there", "s"}
DECLINED = "(declined)"  # the cluster key of a reply that declines


def _number_words(words: list[str]) -> list[str]:
    """Runs of English number words become one number ("fifty one" -> "51", "two hundred and five" -> "205")."""
    out: list[str] = []
    i = 0
    while i < len(words):
        if words[i] not in UNITS and words[i] not in TENS:
            out.append(words[i])
            i += 1
            continue
        total, current, j = 0, 0, i
        while j < len(words):
            w = words[j]
            if w in UNITS:
                current += UNITS[w]
            elif w in TENS:
                current += TENS[w]
            elif w in SCALES and j > i:
                if SCALES[w] == 100:
                    current *= 100
                else:
                    total += current * SCALES[w]
                    current = 0
            elif w == "and" and j > i and words[j - 1] in SCALES and j + 1 < len(words) \
                    and (words[j + 1] in UNITS or words[j + 1] in TENS):
                pass
            else:
                break
            j += 1
        out.append(str(total + current))
        i = j
    return out


def answer_words(text: str) -> list[str]:
    """`normalize`d words with number words as digits and numbers canonical ("eight" and "8.0" -> "8")."""
    words = _number_words(normalize(text).split())
    return [_canonical_number(w) if NUMBER.fullmatch(w) else w for w in words]


def answer_span(text: str) -> str:
    """Where a reply's answer is: after the last answer marker if any, else its first non-empty line."""
    markers = list(ANSWER_MARKER.finditer(text))
    if markers:
        text = text[markers[-1].end():]
    return first_line(text)


def _occurs(words: list[str], phrase: list[str]) -> bool:
    """`phrase` is a contiguous run of `words`, at least once not right after a negation."""
    n = len(phrase)
    return any(words[i:i + n] == phrase and (i == 0 or words[i - 1] not in NEGATIONS)
               for i in range(len(words) - n + 1))


def find_accepted(text: str, accepted: list[str]) -> str | None:
    """The first accepted answer (in the given order) found in the reply's answer span, or None.

    Found = its `answer_words` occur in the span's as a whole word or phrase, not right after
    "not"/"never"/"no". "8" and "eight" are the same answer; "40" does not contain "4".
    """
    words = answer_words(answer_span(text))
    for a in accepted:
        phrase = answer_words(a)
        if phrase and _occurs(words, phrase):
            return a
    return None


def answer_key(text: str, accepted: list[str] | None = None, question: str = "") -> str:
    """The answer a reply gives, as a cluster key: samples with the same key gave the same answer.

    A decline is DECLINED; a reply containing an accepted answer is that answer's canonical
    form (the first accepted spelling, so "Paris" and "The capital of France is Paris." agree);
    otherwise the first sentence of the answer span without the question's words and filler
    ("Sydney is the capital of Australia" -> "sydney"), or its normalized text when nothing
    else is left.
    """
    if is_abstention(text):
        return DECLINED
    if accepted:
        hit = find_accepted(text, accepted)
        if hit is not None:
            return " ".join(answer_words(accepted[0]))
    span = answer_span(text)
    end = SENTENCE_END.search(span)
    if end:
        span = span[: end.start()]
    words = answer_words(span)
    asked = set(answer_words(question))
    rest = [w for w in words if w not in asked and w not in FILLER]
    return " ".join(rest or words)


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
        found = find_accepted(output, targets(rule))
        hit = found is not None
        if hit:
            extracted = " ".join(answer_words(found))
    elif kind == "regex":
        hit = re.search(rule["pattern"], output) is not None
    elif kind == "abstention":
        abstained = is_abstention(output)
        return {"score": float(abstained), "abstained": abstained, "extracted": extracted}
    else:  # validated by suite.py
        raise ValueError(f"unknown rule type {kind!r}")
    return {"score": float(hit), "extracted": extracted}


def modal_answer(answers: list[str]) -> tuple[str, float]:
    """The most common answer key (ties: the one seen first) and the share of answers equal to it."""
    if not answers:
        return "", 0.0
    counts: dict[str, int] = {}
    for a in answers:
        counts[a] = counts.get(a, 0) + 1
    best = max(counts, key=lambda a: (counts[a], -answers.index(a)))
    return best, counts[best] / len(answers)
