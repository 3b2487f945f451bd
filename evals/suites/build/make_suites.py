"""Generate the four built-in suites (`evals/suites/<id>.jsonl`) from the tables in this folder.

    .venv/bin/python -m evals.suites.build.make_suites            # rewrite evals/suites/*.jsonl
    .venv/bin/python -m evals.suites.build.make_suites --out DIR  # write somewhere else
    .venv/bin/python -m evals.suites.build.make_suites --check    # exit 1 if the files are stale

Deterministic: every random choice comes from `random.Random(<fixed string seed>)` (string seeds
are hashed with SHA-512 by Python, so they do not depend on PYTHONHASHSEED or the platform), the
tables are iterated in order, and JSON is written with a fixed key order and "\n" line ends.
Running it twice gives byte-identical files. Edit the tables, not the .jsonl files; bump
SUITE_VERSIONS for a suite whose items change, since stored runs are compared by version.

Answer positions are balanced, not left to chance: for n items with k choices the correct
positions are the list [0, 1, ..., k-1, 0, 1, ...] shuffled with the seed, and the other choices
are shuffled around it.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from evals.suites.build import bias, facts, generation  # noqa: E402

SUITES_DIR = Path(__file__).resolve().parent.parent
SUITE_IDS = ("hallucination", "bias", "prompt-sensitivity", "calibration")
SUITE_VERSIONS = {"hallucination": "2", "bias": "1", "prompt-sensitivity": "1", "calibration": "1"}


def _rng(*parts: str) -> random.Random:
    return random.Random("glasslm/suites/" + "/".join(parts))


def balanced_positions(n: int, k: int, rng: random.Random) -> list[int]:
    """n correct-answer positions in range(k), each used n//k or n//k + 1 times, in seeded order."""
    positions = [i % k for i in range(n)]
    rng.shuffle(positions)
    return positions


def place(best: str, others: list[str], position: int, rng: random.Random) -> list[str]:
    others = list(others)
    rng.shuffle(others)
    others.insert(position, best)
    return others


def qa_prompt(question: str) -> str:
    return f"Question: {question}\nAnswer:"


def header(suite: str, title: str, description: str) -> dict:
    return {"suite": suite, "version": SUITE_VERSIONS[suite], "title": title, "description": description}


# ------------------------------------------------------------------------------------ checks
_ARITH = re.compile(r"^What is (\d+(?:\.\d+)?) (plus|minus|multiplied by|divided by) (\d+(?:\.\d+)?)\?$")


def _check_fact(f: facts.Fact) -> None:
    texts = [f.best, *f.false] + ([f.alt] if f.alt else [])
    if len(set(t.lower() for t in texts)) != len(texts):
        raise ValueError(f"duplicate choice text in {f.question!r}")
    if any(t != t.strip() or not t for t in texts):
        raise ValueError(f"choice with surrounding space or empty in {f.question!r}")
    if f.level not in ("easy", "medium", "hard"):
        raise ValueError(f"bad level {f.level!r} for {f.question!r}")
    m = _ARITH.match(f.question)
    if m:  # verify arithmetic answer keys
        a, op, b = float(m.group(1)), m.group(2), float(m.group(3))
        value = {"plus": a + b, "minus": a - b, "multiplied by": a * b, "divided by": a / b}[op]
        if abs(float(f.best) - value) > 1e-9:
            raise ValueError(f"wrong arithmetic key for {f.question!r}: {f.best} != {value}")


# ------------------------------------------------------------------------------------ hallucination
def build_hallucination() -> list[dict]:
    rows = [header(
        "hallucination", "Hallucination",
        "Closed-book multiple choice on well-known facts (MC1 accuracy, MC2 probability mass on true "
        "answers), questions about invented people, places, books, events and inventions where the right "
        "answer is to decline (hallucination rate), and sampled answers to short questions (self-consistency).",
    )]
    rng = _rng("hallucination", "closed_book")
    positions = balanced_positions(len(facts.CLOSED_BOOK), 4, rng)
    for n, (f, pos) in enumerate(zip(facts.CLOSED_BOOK, positions), start=1):
        _check_fact(f)
        others = ([f.alt] + list(f.false[:2])) if f.alt else list(f.false)
        choices = place(f.best, others, pos, rng)
        correct = sorted(choices.index(t) for t in ([f.best, f.alt] if f.alt else [f.best]))
        rows.append({
            "id": f"hal-cb-{n:03d}", "kind": "multiple_choice", "part": "closed_book", "category": f.domain,
            "prompt": qa_prompt(f.question), "choices": choices, "answer": pos, "correct": correct,
            "metadata": {"difficulty": f.level},
        })
    for n, (etype, name, question) in enumerate(generation.MADE_UP, start=1):
        rows.append({
            "id": f"hal-mue-{n:03d}", "kind": "generation", "part": "made_up_entities", "category": etype,
            "prompt": qa_prompt(question), "rule": {"type": "abstention"}, "max_new_tokens": 48,
            "metadata": {"entity_type": etype, "invented": name},
        })
    for n, (domain, question, answers) in enumerate(generation.SELF_CONSISTENCY, start=1):
        rows.append({
            "id": f"hal-sc-{n:03d}", "kind": "self_consistency", "part": "self_consistency", "category": domain,
            "prompt": qa_prompt(question), "samples": 5, "temperature": 0.7, "max_new_tokens": 16,
            "answer": answers,
        })
    return rows


# ------------------------------------------------------------------------------------ calibration
def build_calibration() -> list[dict]:
    rows = [header(
        "calibration", "Calibration and overconfidence",
        "Four-option multiple choice from easy to hard across science, geography, history, arithmetic, "
        "language and everyday knowledge. Compares the probability the model puts on its chosen answer with "
        "whether it is right: expected calibration error (10 bins), Brier score, reliability diagram.",
    )]
    table = facts.CLOSED_BOOK + facts.CALIBRATION_EXTRA
    rng = _rng("calibration")
    positions = balanced_positions(len(table), 4, rng)
    for n, (f, pos) in enumerate(zip(table, positions), start=1):
        _check_fact(f)
        rows.append({
            "id": f"cal-{n:03d}", "kind": "multiple_choice", "part": "mc", "category": f.domain,
            "prompt": qa_prompt(f.question), "choices": place(f.best, list(f.false), pos, rng), "answer": pos,
            "metadata": {"difficulty": f.level},
        })
    return rows


# ------------------------------------------------------------------------------------ bias
def _definite(phrase: str) -> str:
    for article in ("a ", "an "):
        if phrase.startswith(article):
            return "the " + phrase[len(article):]
    raise ValueError(f"noun phrase must start with 'a ' or 'an ': {phrase!r}")


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


# The six orders of (target, other, unknown); each context/polarity cell cycles through them.
_PERMS = ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0))


def build_bias() -> list[dict]:
    rows = [header(
        "bias", "Social bias",
        "BBQ-style questions about two people in an ambiguous and a disambiguated context across gender, age, "
        "race/ethnicity, religion, disability, nationality and socio-economic status (accuracy and bias scores "
        "s_DIS, s_AMB), and minimal sentence pairs scored by log-likelihood (share preferring the stereotype).",
    )]
    rng = _rng("bias", "bbq")
    # one seeded cycle of the six orders per (context, polarity, is the answer the target) cell
    cells = [("ambig", p, None) for p in ("neg", "nonneg")] + [
        ("disambig", p, t) for p in ("neg", "nonneg") for t in (True, False)]
    perm_order = {cell: rng.sample(range(6), 6) for cell in cells}
    cell_count = {cell: 0 for cell in cells}
    per_category: dict[str, int] = {}
    for s_index, sc in enumerate(bias.SCENARIOS):
        if sc.category not in bias.CATEGORIES:
            raise ValueError(f"unknown category {sc.category!r}")
        k = per_category.get(sc.category, 0)
        per_category[sc.category] = k + 1
        consistent = k % 2 == 0  # disambiguated answer to the negative question is the target
        target_first = (k // 2) % 2 == 0  # order of mention, decorrelated from `consistent`
        target_def, other_def = _definite(sc.target), _definite(sc.other)
        first, second = (sc.target, sc.other) if target_first else (sc.other, sc.target)
        context = _cap(sc.context.format(A=first, B=second))
        neg_person, pos_person = (target_def, other_def) if consistent else (other_def, target_def)
        disambig = _cap(sc.disambig.format(NEG=neg_person, POS=pos_person))
        unknown = bias.UNKNOWN_OPTIONS[s_index % len(bias.UNKNOWN_OPTIONS)]
        scenario_id = f"{sc.category}-{k + 1:02d}"
        for condition in ("ambig", "disambig"):
            ctx = context if condition == "ambig" else f"{context} {disambig}"
            for polarity in ("neg", "nonneg"):
                answer_is_target = None if condition == "ambig" else (
                    consistent if polarity == "neg" else not consistent)
                cell = (condition, polarity, answer_is_target)
                perm = _PERMS[perm_order[cell][cell_count[cell] % 6]]
                cell_count[cell] += 1
                # roles 0 and 1 are the two people: (target, other) in the ambiguous form, (the person
                # who answers the question, the other person) in the disambiguated form, so that the
                # cycle balances the answer's position as well as the unknown option's.
                if condition == "ambig":
                    people = (_cap(target_def), _cap(other_def))
                else:
                    people = (_cap(target_def), _cap(other_def)) if answer_is_target else (_cap(other_def), _cap(target_def))
                choices = [(people[0], people[1], unknown)[role] for role in perm]
                target_index, unknown_index = choices.index(_cap(target_def)), perm.index(2)
                answer = unknown_index if condition == "ambig" else perm.index(0)
                question = sc.neg_q if polarity == "neg" else sc.nonneg_q
                prompt = (f"Context: {ctx}\nQuestion: {question}\nOptions: {'; '.join(choices)}\nAnswer:")
                meta = {
                    "context_condition": condition, "question_polarity": polarity,
                    "target_index": target_index, "unknown_index": unknown_index,
                    "scenario": scenario_id, "target_group": sc.target, "other_group": sc.other,
                    "stereotype": sc.stereotype,
                }
                if condition == "disambig":
                    meta["stereotype_consistent"] = consistent
                rows.append({
                    "id": f"bias-bbq-{scenario_id}-{condition}-{polarity}", "kind": "multiple_choice",
                    "part": "bbq", "category": sc.category, "prompt": prompt, "choices": choices,
                    "answer": answer, "metadata": meta,
                })
    per_category = {}
    for category, template, target, other, stereotype in bias.MINIMAL_PAIRS:
        if category not in bias.CATEGORIES or template.count("{}") != 1:
            raise ValueError(f"bad minimal pair {template!r}")
        k = per_category.get(category, 0) + 1
        per_category[category] = k
        rows.append({
            "id": f"bias-mp-{category}-{k:02d}", "kind": "minimal_pair", "part": "pairs", "category": category,
            "more": _cap(template.format(target)), "less": _cap(template.format(other)),
            "metadata": {"target_group": target, "other_group": other, "stereotype": stereotype},
        })
    return rows


# ------------------------------------------------------------------------------------ prompt sensitivity
LETTERS = ("A", "B", "C", "D")


def _lines(question: str, options: list[str], labels, label_sep: str, q_head: str, a_cue: str,
           gap: str = "\n") -> str:
    body = gap.join(f"{lab}{label_sep}{opt}" for lab, opt in zip(labels, options))
    return f"{q_head}{question}{gap}{body}{gap}{a_cue}"


def _plain(question: str, options: list[str]) -> str:
    return _lines(question, options, LETTERS, ". ", "Question: ", "Answer:")


def add_typos(text: str, rng: random.Random, rate: float = 0.3) -> str:
    """Seeded keyboard slips in words of 4+ letters: swap two letters, drop one, or double one.

    The first letter of each word is kept, so the question stays readable; at least one word changes.
    """
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if sum(c.isalpha() for c in w) >= 4]
    if not candidates:
        raise ValueError(f"no word long enough for a typo in {text!r}")
    chosen = sorted(rng.sample(candidates, max(1, round(len(candidates) * rate))))
    for i in chosen:
        word = words[i]
        inner = [j for j, c in enumerate(word) if c.isalpha() and j > 0]
        op = rng.choice(("swap", "drop", "double"))
        if op == "swap":
            pairs = [j for j in inner if j + 1 < len(word) and word[j + 1].isalpha() and word[j] != word[j + 1]]
            if pairs:
                j = rng.choice(pairs)
                word = word[:j] + word[j + 1] + word[j] + word[j + 2:]
            else:
                op = "double"
        if op == "drop":
            j = rng.choice(inner)
            word = word[:j] + word[j + 1:]
        if op == "double":
            j = rng.choice(inner)
            word = word[:j] + word[j] + word[j:]
        words[i] = word
    out = " ".join(words)
    if out == text:
        raise ValueError(f"typo pass left {text!r} unchanged")
    return out


VARIANT_NAMES = (
    "plain", "separator_dash", "separator_caps", "lowercase", "single_line", "wide_spacing",
    "label_paren", "label_numeric", "instruction_a", "instruction_b", "typos", "order_reversed",
    "order_shuffled",
)
INSTRUCTION_A = "Answer the following multiple-choice question with the letter of the correct option.\n\n"
INSTRUCTION_B = "Read the question below, pick the best of the four options, and reply with its letter only.\n\n"


def _variants(question: str, options: list[str], answer: int, k: int, rng: random.Random) -> list[dict]:
    def v(name, prompt, choices, ans):
        return {"name": name, "prompt": prompt, "choices": list(choices), "answer": ans}

    lower = [c.lower() for c in LETTERS]
    out = [
        v("plain", _plain(question, options), LETTERS, answer),
        v("separator_dash", _lines(question, options, LETTERS, " - ", "Q - ", "Answer -"), LETTERS, answer),
        v("separator_caps", _lines(question, options, LETTERS, " :: ", "QUESTION :: ", "ANSWER ::"), LETTERS, answer),
        v("lowercase", _lines(question, options, lower, ". ", "question: ", "answer:"), lower, answer),
        v("single_line", _lines(question, options, LETTERS, ". ", "Question: ", "Answer:", gap=" | "), LETTERS, answer),
        v("wide_spacing", _lines(question, options, LETTERS, ".   ", "Question:\n\n", "\nAnswer:", gap="\n\n"), LETTERS, answer),
        v("label_paren", _lines(question, options, [f"({c})" for c in lower], " ", "Question: ", "Answer:"),
          [f"({c})" for c in lower], answer),
        v("label_numeric", _lines(question, options, ["1", "2", "3", "4"], ") ", "Question: ", "Answer:"),
          ["1", "2", "3", "4"], answer),
        v("instruction_a", INSTRUCTION_A + _plain(question, options), LETTERS, answer),
        v("instruction_b", INSTRUCTION_B + _plain(question, options), LETTERS, answer),
        v("typos", _plain(add_typos(question, rng), options), LETTERS, answer),
    ]
    reversed_opts = options[::-1]
    out.append(v("order_reversed", _plain(question, reversed_opts), LETTERS, len(options) - 1 - answer))
    # move the correct option to a new, balanced position; shuffle the rest around it
    new_pos = (answer + 1 + k % 3) % 4
    rest = [o for i, o in enumerate(options) if i != answer]
    shuffled = place(options[answer], rest, new_pos, rng)
    while shuffled == reversed_opts:  # keep every variant's prompt distinct
        shuffled = place(options[answer], rest, new_pos, rng)
    out.append(v("order_shuffled", _plain(question, shuffled), LETTERS, new_pos))
    assert tuple(x["name"] for x in out) == VARIANT_NAMES
    return out


def build_prompt_sensitivity() -> list[dict]:
    rows = [header(
        "prompt-sensitivity", "Prompt sensitivity",
        "Simple four-option questions, each rendered under 13 prompt variants (separators, casing, spacing, "
        "answer-label style, instruction paraphrases, seeded typos, answer-order permutations). Reports "
        "accuracy per variant, spread (best minus worst), consistency across variants and drop rate vs plain.",
    )]
    rng = _rng("prompt-sensitivity")
    positions = balanced_positions(len(facts.SENSITIVITY), 4, rng)
    for n, (f, pos) in enumerate(zip(facts.SENSITIVITY, positions), start=1):
        _check_fact(f)
        options = place(f.best, list(f.false), pos, rng)
        variants = _variants(f.question, options, pos, n - 1, _rng("prompt-sensitivity", f"item-{n}"))
        plain = variants[0]
        rows.append({
            "id": f"ps-{n:03d}", "kind": "multiple_choice", "part": "mc", "category": f.domain,
            "prompt": plain["prompt"], "choices": plain["choices"], "answer": plain["answer"],
            "variants": variants,
            "metadata": {"question": f.question, "options": options, "answer_text": f.best},
        })
    return rows


BUILDERS = {
    "hallucination": build_hallucination,
    "bias": build_bias,
    "prompt-sensitivity": build_prompt_sensitivity,
    "calibration": build_calibration,
}


def render(rows: list[dict]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")


def build_all() -> dict[str, bytes]:
    """{suite id: file bytes}; raises ValueError if a table breaks an invariant."""
    out = {}
    for suite, builder in BUILDERS.items():
        rows = builder()
        ids = [r["id"] for r in rows[1:]]
        if len(ids) != len(set(ids)):
            raise ValueError(f"{suite}: duplicate item ids")
        out[suite] = render(rows)
    return out


def write_all(out_dir: Path) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for suite, data in build_all().items():
        path = out_dir / f"{suite}.jsonl"
        path.write_bytes(data)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=SUITES_DIR, help="output folder (default: evals/suites)")
    parser.add_argument("--check", action="store_true", help="compare with the files in --out; write nothing")
    args = parser.parse_args(argv)
    if args.check:
        stale = [s for s, data in build_all().items()
                 if not (args.out / f"{s}.jsonl").is_file() or (args.out / f"{s}.jsonl").read_bytes() != data]
        for s in stale:
            print(f"{args.out / (s + '.jsonl')} is stale; run python -m evals.suites.build.make_suites")
        return 1 if stale else 0
    for path in write_all(args.out):
        n = path.read_bytes().count(b"\n") - 1
        print(f"wrote {path} ({n} items)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
