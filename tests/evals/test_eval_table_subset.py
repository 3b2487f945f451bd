"""benchmarks/real_model_table.py's evenly spaced subsets: pairs stay together, BBQ keeps its four
conditions, and the subset is a valid suite file."""

import json
from pathlib import Path

from benchmarks.real_model_table import group_key, subset
from evals.importers import import_suite
from evals.suite import load_suite

FIXTURES = Path(__file__).parent / "fixtures"


def test_truthfulqa_questions_keep_both_parts(tmp_path):
    suite = import_suite("truthfulqa", FIXTURES / "mc_task.json", tmp_path, suite_id="tqa")
    small = subset(suite, 2, tmp_path)
    assert [i.id for i in small.items] == ["tqa-0000-mc1", "tqa-0000-mc2"]
    assert small.id == "tqa-every2" and load_suite(small.path).hash == small.hash
    assert subset(suite, None, tmp_path) is suite and subset(suite, 99, tmp_path) is suite
    assert group_key("halueval-qa-00007-hallucinated") == group_key("halueval-qa-00007-right")


def test_bbq_subset_keeps_all_four_conditions(tmp_path):
    doc = json.loads((FIXTURES / "bbq_sample.jsonl").read_text(encoding="utf-8").splitlines()[0])
    conditions = [("neg", "ambig"), ("neg", "disambig"), ("nonneg", "ambig"), ("nonneg", "disambig")]
    rows = [dict(doc, example_id=n, question_polarity=conditions[n % 4][0], context_condition=conditions[n % 4][1])
            for n in range(40)]
    source = tmp_path / "Age.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    suite = import_suite("bbq", source, tmp_path, suite_id="bbq")
    small = subset(suite, 10, tmp_path)  # step 4 would keep one condition only; the odd step 5 keeps all
    kept = {(i.metadata["question_polarity"], i.metadata["context_condition"]) for i in small.items}
    assert kept == set(conditions) and len(small.items) == 8
