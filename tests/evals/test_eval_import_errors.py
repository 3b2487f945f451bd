"""Importers on malformed rows: one message naming the user's file, line and field; nothing written."""

import json
from pathlib import Path

import pytest

from evals.errors import DatasetImportError
from evals.importers import import_suite

FIXTURES = Path(__file__).parent / "fixtures"
CROWS_HEADER = ",sent_more,sent_less,stereo_antistereo,bias_type,annotations,anon_writer,anon_annotators\n"
GOOD_TQA = {"question": "Q?", "mc1_targets": {"a": 1, "b": 0}, "mc2_targets": {"a": 1, "b": 0}}


def bbq_row(**changes):
    row = json.loads((FIXTURES / "bbq_sample.jsonl").read_text().splitlines()[0])
    row.update(changes)
    return json.dumps(row)


def crows(*rows):
    return CROWS_HEADER + "".join(r + "\n" for r in rows)


GOOD_CROWS = '0,"Old people are slow.","Young people are slow.",stereo,age,"[]",a0,"[]"'

CASES = [
    ("crows", crows(GOOD_CROWS, '1,"Only one sentence"'), "line 3: the row has no bias_type, sent_less"),
    ("crows", crows(GOOD_CROWS, '1,"A multi\nline sentence.","B",sideways,age,"[]",a1,"[]"'),
     "line 3: 'stereo_antistereo' is 'sideways'"),
    ("crows", crows('1,"A","B",stereo,,"[]",a1,"[]"'), "line 2: 'bias_type' is empty"),
    ("crows", crows(GOOD_CROWS, GOOD_CROWS), "line 3 repeats line 2 (both become item crows-0)"),
    ("truthfulqa", json.dumps([GOOD_TQA, {**GOOD_TQA, "mc1_targets": {"a": "yes", "b": 0}}], indent=1),  # record 2 starts on line 13
     "line 13: 'mc1_targets': the label of choice 'a' is 'yes'; labels must be 0 or 1"),
    ("truthfulqa", json.dumps({**GOOD_TQA, "question": None}), "line 1: 'question' must be text, not null"),
    ("truthfulqa", json.dumps(GOOD_TQA) + "\n42\n", "line 2: expected a JSON object {...}, found a number"),
    ("truthfulqa", json.dumps(GOOD_TQA) + "\n" + json.dumps({"question": "Q2"}),
     "line 2: missing mc1_targets, mc2_targets"),
    ("truthfulqa", json.dumps({**GOOD_TQA, "mc2_targets": ["a", "b"]}), "line 1: 'mc2_targets' must be"),
    ("truthfulqa", "Question,Best Answer,Correct Answers,Incorrect Answers\nQ?,,x,y\n", "line 2: 'Best Answer' is empty"),
    ("bbq", bbq_row() + "\n" + bbq_row(label="x"), "line 2: 'label' must be a whole number from 0 to 2, not 'x'"),
    ("bbq", bbq_row(answer_info=5), "line 1: 'answer_info' must be an object {...}, not a number"),
    ("bbq", bbq_row(context=7), "line 1: 'context' must be text, not a number"),
    ("bbq", bbq_row(question_polarity="maybe"), "line 1: 'question_polarity' is 'maybe'"),
    ("bbq", bbq_row(additional_metadata={"stereotyped_groups": "old"}),
     "'additional_metadata.stereotyped_groups' must be a list of strings"),
    ("bbq", bbq_row(answer_info={"ans0": ["a", "b"], "ans1": ["c", "d"], "ans2": ["e", "f"]}),
     "has no 'unknown' answer"),
    ("bbq", bbq_row(ans1="The grandfather", ans0="The grandfather"), '"choices" has the same text twice'),
    ("bbq", bbq_row() + "\n" + bbq_row(), "line 2 repeats line 1 (both become item bbq-Age-0)"),
    ("bbq", bbq_row(example_id=None), "line 1: 'example_id' must be a number or a string, not null"),
]


@pytest.mark.parametrize("kind, text, message", CASES)
def test_a_malformed_row_is_one_message_with_file_line_and_field(tmp_path, kind, text, message):
    source = tmp_path / "data.in"
    source.write_text(text, encoding="utf-8")
    suites = tmp_path / "suites"
    with pytest.raises(DatasetImportError) as caught:
        import_suite(kind, source, suites)
    text = str(caught.value)
    assert text.startswith("data.in") and message in text, text
    assert not suites.exists() or list(suites.iterdir()) == []


def test_a_json_file_given_as_csv_says_so(tmp_path):
    with pytest.raises(DatasetImportError, match="is JSON, but this importer reads the published CSV"):
        import_suite("crows", FIXTURES / "mc_task.json", tmp_path)


def test_an_empty_suite_id_is_an_error_not_the_default(tmp_path):
    with pytest.raises(DatasetImportError, match="--id '' must be"):
        import_suite("crows", FIXTURES / "crows_pairs_anonymized.csv", tmp_path, suite_id="")
    assert list(tmp_path.iterdir()) == []
