"""The generation rules against people's judgments of real replies.

`fixtures/labelled_replies.jsonl`: replies of SmolLM2-135M-Instruct (Q4_1 GGUF, fp32) and the
bundled bard-mini to the built-in hallucination suite's generation items (self-consistency
questions at their T = 0.7 with the run seeds of seed 0, questions about made-up entities greedy),
made by `fixtures/make_labelled_replies.py` and then labelled by hand, reading each reply:
"correct" (gives the accepted answer), "declined" (declines, or says the thing does not exist),
"wrong" (anything else: a wrong answer, an invented detail, an off-topic line). The labels were
written without running the rules. The rules' label: declined when `is_abstention`, else correct
when `find_accepted` finds an accepted answer, else wrong.
"""

import json
from collections import Counter
from pathlib import Path

from evals.rules import DECLINED, answer_key, find_accepted, is_abstention

FIXTURE = Path(__file__).parent / "fixtures" / "labelled_replies.jsonl"
LABELS = {"correct", "wrong", "declined"}


def load() -> list[dict]:
    return [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines() if line.strip()]


def rule_label(row: dict) -> str:
    if is_abstention(row["reply"]):
        return "declined"
    if row["accepted"] and find_accepted(row["reply"], row["accepted"]):
        return "correct"
    return "wrong"


def test_fixture_is_real_and_labelled():
    rows = load()
    assert len(rows) >= 95  # about 100
    assert {r["label"] for r in rows} == LABELS  # every label occurs
    assert {r["model"] for r in rows} == {"SmolLM2-135M-Instruct.Q4_1", "bard-mini"}
    assert all(r["reply"] == r["reply"].strip() or r["reply"] for r in rows)
    assert all((r["accepted"] is None) == r["item_id"].startswith("hal-mue-") for r in rows)


def test_rules_agree_with_the_labels():
    rows = load()
    disagreements = [(r["model"], r["item_id"], r["label"], rule_label(r), r["reply"][:80]) for r in rows
                     if rule_label(r) != r["label"]]
    agreement = 1 - len(disagreements) / len(rows)
    by_label = Counter(r["label"] for r in rows)
    print(f"\nrules agree with {len(rows) - len(disagreements)} of {len(rows)} labels ({agreement:.1%}); "
          f"labels {dict(by_label)}; disagreements: {disagreements}")
    assert agreement >= 0.95, disagreements


def test_correct_replies_cluster_on_the_reference():
    for r in load():
        if r["label"] == "correct":
            reference = answer_key(r["accepted"][0], r["accepted"])
            assert answer_key(r["reply"], r["accepted"], r["prompt"]) == reference, r
        elif r["label"] == "declined":
            assert answer_key(r["reply"], r["accepted"], r["prompt"]) == DECLINED or rule_label(r) != "declined"
