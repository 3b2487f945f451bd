"""Overall metrics only where they mean one thing in every part (TruthfulQA's mc1/mc2 split), and
comparisons that follow the same rule."""

import pytest

from evals.report import build_report, compare, overall_specs


def mc_result(item_id, part, correct, n_true=1, mc2=None, confidence=0.5, category=None):
    return {"item_id": item_id, "variant": "", "kind": "multiple_choice", "part": part, "category": category,
            "correct": correct, "score": float(correct), "output": "", "expected": "",
            "scores": {"n_true": n_true, "mc2": mc2 if mc2 is not None else float(correct), "confidence": confidence,
                       "argmax_true": correct, "brier": 0.0 if correct else 1.0}}


def truthfulqa_like():
    mc1 = [mc_result(f"q{i}-mc1", "mc1", i % 2 == 0) for i in range(10)]  # accuracy 0.5, mc2 = p(true) 0.5
    mc2 = [mc_result(f"q{i}-mc2", "mc2", i < 8, n_true=3, mc2=0.9) for i in range(10)]  # MC1-on-mc2 0.8, mc2 0.9
    return mc1 + mc2


def test_truthfulqa_parts_are_not_averaged_together():
    report = build_report(truthfulqa_like(), n_boot=20)
    overall = report["overall"]
    assert "accuracy" not in overall and "ece" not in overall and "brier" not in overall
    assert set(report["per_part_only"]) == {"accuracy", "ece", "brier"}
    # mc2 applies in the mc2 part only, so overall mc2 is that part's (not mixed with mc1's 0.5s)
    assert overall["mc2"]["value"] == pytest.approx(0.9) and overall["mc2"]["n"] == 10
    assert overall["mc2"] == report["parts"]["mc2"]["mc2"]
    assert report["parts"]["mc1"]["accuracy"]["value"] == pytest.approx(0.5)
    assert report["parts"]["mc2"]["accuracy"]["value"] == pytest.approx(0.8)
    assert report["reliability"] == []  # ECE differs between the parts, so there is no overall diagram


def test_parts_scored_alike_are_reported_overall():
    results = [mc_result(f"{cat}-{i}", cat, i < k, category=cat) for cat, k in (("Age", 3), ("Religion", 1))
               for i in range(4)]
    report = build_report(results, n_boot=20)
    assert report["overall"]["accuracy"]["value"] == pytest.approx(0.5) and report["overall"]["accuracy"]["n"] == 8
    assert report["per_part_only"] == [] and sum(b["count"] for b in report["reliability"]) == 8


def test_metrics_of_one_part_each_stay_overall():
    gen = [{"item_id": f"g{i}", "variant": "", "kind": "generation", "part": "made_up", "category": None,
            "correct": i == 0, "score": float(i == 0), "output": "", "expected": "",
            "scores": {"rule": "abstention", "abstained": i == 0}} for i in range(4)]
    report = build_report([mc_result("m0", "closed", True), mc_result("m1", "closed", False), *gen], n_boot=20)
    assert report["overall"]["accuracy"]["value"] == pytest.approx(0.5)
    assert report["overall"]["hallucination_rate"]["value"] == pytest.approx(0.75)
    assert report["per_part_only"] == []


def test_compare_keeps_per_part_metrics_apart():
    a = truthfulqa_like()
    b = [dict(r, correct=True, score=1.0, scores=dict(r["scores"], argmax_true=True)) for r in a]
    deltas = compare(a, b, n_boot=20)["deltas"]
    assert "accuracy" not in deltas
    assert deltas["mc1/accuracy"]["delta"] == pytest.approx(0.5) and deltas["mc1/accuracy"]["n_common"] == 10
    assert deltas["mc2/accuracy"]["delta"] == pytest.approx(0.2)
    assert deltas["mc2"]["n_common"] == 10


def test_overall_specs_single_part_is_everything():
    chosen, left = overall_specs([mc_result("a", "p", True), mc_result("b", "p", False, n_true=2)])
    assert [s.name for s, _ in chosen] == ["accuracy", "mc2", "ece", "brier"] and left == []
