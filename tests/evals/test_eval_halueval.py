"""The HaluEval importer and its report (accuracy, precision/recall per class).

Fixtures: `halueval_qa_data.json` is the first three rows of the published qa_data.json; the
dialogue and summarization files hold one row each in the published field layout, written from
the examples in HaluEval's own evaluation instructions.
"""

import hashlib
import json
from pathlib import Path

import pytest

from evals.errors import DatasetImportError
from history import History
from evals.importers import halueval, halueval_instructions, import_suite
from evals.runner import RunSpec, Runner

from evalfakes import fake_opener

FIXTURES = Path(__file__).parent / "fixtures"


def test_qa_rows_become_a_right_and_a_hallucinated_item(tmp_path):
    suite = import_suite("halueval", FIXTURES / "halueval_qa_data.json", tmp_path, suite_id="halu")
    assert len(suite.items) == 6 and {i.part for i in suite.items} == {"qa"}
    right, wrong = suite.items[0], suite.items[1]
    assert right.id == "halueval-qa-00001-right" and right.choices == ("Yes", "No") and right.answer == 1
    assert wrong.id == "halueval-qa-00001-hallucinated" and wrong.answer == 0
    # the benchmark's completion prompt: instruction, question, answer, judgement cue (no knowledge)
    assert right.prompt == (halueval_instructions.QA + "\n\n#Question#: Which magazine was started first Arthur's "
                            "Magazine or First for Women?\n#Answer#: Arthur's Magazine\n#Your Judgement#:")
    assert wrong.prompt.endswith("#Answer#: First for Women was started first.\n#Your Judgement#:")
    assert "Arthur's Magazine (1844" not in right.prompt
    assert right.metadata == {"classification": True, "record": 1, "hallucinated": False}


@pytest.mark.parametrize("name, task, shown", [
    ("halueval_dialogue_data.json", "dialogue", "\n\n#Dialogue History#: [Human]: Could you"),
    ("halueval_summarization_data.json", "summarization", "\n\n#Document#: The city was brought"),
])
def test_dialogue_and_summarization_files(tmp_path, name, task, shown):
    suite = import_suite("halueval", FIXTURES / name, tmp_path, suite_id=task)
    assert [i.part for i in suite.items] == [task, task] and [i.answer for i in suite.items] == [1, 0]
    assert shown in suite.items[0].prompt and suite.items[0].prompt.endswith("\n#Your Judgement#:")
    assert suite.items[0].prompt.startswith(getattr(halueval_instructions, task.upper()))


@pytest.mark.parametrize("task, blob", [  # git blob ids of evaluation/<task>/<task>_evaluation_instruction.txt
    ("QA", "3ad75ec1e766baf9ec4bb07323f39cf44cf822e2"),
    ("DIALOGUE", "f012ba1391c0b2e299cc62ef5ba7391dc5bba615"),
    ("SUMMARIZATION", "cffbc0054cf5f8cadd49ad6bbfd89f1c52710720"),
])
def test_instructions_are_the_published_files_byte_for_byte(task, blob):
    data = getattr(halueval_instructions, task).encode("utf-8")
    assert hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest() == blob


def test_bad_files_are_one_clear_error(tmp_path):
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"question": "q", "answer": "a"}) + "\n", encoding="utf-8")
    with pytest.raises(DatasetImportError, match="neither the QA, the dialogue nor the summarization fields"):
        import_suite("halueval", other, tmp_path / "out")
    broken = tmp_path / "broken.json"
    rows = [json.loads(line) for line in (FIXTURES / "halueval_qa_data.json").read_text(encoding="utf-8").splitlines()]
    del rows[1]["right_answer"]
    broken.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    with pytest.raises(DatasetImportError, match="record 2: missing or not text: right_answer"):
        import_suite("halueval", broken, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.jsonl"))
    assert halueval.detect_task({"document": "", "right_summary": "", "hallucinated_summary": ""}) == "summarization"


class JudgeLM:
    """Says "Yes" (hallucinated) to every prompt whose answer line contains `suspicious`."""

    name = "judge"

    def __init__(self, suspicious):
        self.suspicious = suspicious

    def loglikelihood(self, requests):
        out = []
        for ctx, cont in requests:
            answer_line = ctx.rsplit("#Answer#:", 1)[-1]
            says_yes = self.suspicious in answer_line
            out.append((0.0 if (cont.strip() == "Yes") == says_yes else -1.0, False))
        return out

    def generate(self, prompt, settings):
        return ""


def test_report_has_accuracy_and_precision_recall_per_class(tmp_path):
    suite = import_suite("halueval", FIXTURES / "halueval_qa_data.json", tmp_path, suite_id="halu")
    # Judge "Yes" when the answer says "first": only row 1's hallucinated answer ("First for Women was
    # started first.") is judged hallucinated, so Yes: 1 true positive, 2 misses; No: 3 right, 2 wrong.
    lm = JudgeLM("first")
    with History.open(tmp_path / "h.db") as history:
        run_id = Runner(history, opener=fake_opener(lm), n_boot=50).start(RunSpec(suite, None))
        results = {r["item_id"]: r for r in history.results(run_id)}
        metrics = history.run(run_id)["metrics"]["overall"]
    assert {k for k, r in results.items() if r["scores"]["class_pred"] == "Yes"} == {"halueval-qa-00001-hallucinated"}
    assert {k for k, r in results.items() if r["scores"]["class_true"] == "Yes"} == {
        k for k in results if k.endswith("hallucinated")}
    assert metrics["accuracy"]["value"] == pytest.approx(4 / 6)
    assert metrics["precision[Yes]"]["value"] == pytest.approx(1.0)
    assert metrics["recall[Yes]"]["value"] == pytest.approx(1 / 3)
    assert metrics["precision[No]"]["value"] == pytest.approx(3 / 5)
    assert metrics["recall[No]"]["value"] == pytest.approx(1.0)
    assert metrics["precision[Yes]"]["low"] is not None and metrics["recall[No]"]["n"] == 6


def test_crows_pairs_aliases(tmp_path):
    for i, kind in enumerate(("crows-pairs", "crows_pairs")):
        suite = import_suite(kind, FIXTURES / "crows_pairs_anonymized.csv", tmp_path / str(i))
        assert suite.id == "crows" and suite.items[0].kind == "minimal_pair"
