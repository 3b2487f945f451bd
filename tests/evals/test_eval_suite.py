"""Suite loading and validation: good files load, bad ones name file, line, item and field."""

import json

import pytest

from evals.errors import SuiteError
from evals.suite import find_suite, list_suites, load_suite

from evalfakes import mc, write_suite


def test_loads_every_kind(tmp_path):
    path = write_suite(tmp_path, "mix", [
        mc(1, correct=[0]),
        {"id": "g1", "kind": "generation", "part": "facts", "prompt": "Capital of France?",
         "rule": {"type": "normalized", "target": ["Paris"]}},
        {"id": "mp1", "kind": "minimal_pair", "part": "crows", "category": "age", "more": "Old a", "less": "Young b"},
        {"id": "sc1", "kind": "self_consistency", "part": "sc", "prompt": "2+2?", "answer": "4"},
        mc(2, variants=[{"name": "caps", "prompt": "Q?!", "choices": ["YES", "NO"], "answer": 0}]),
    ])
    suite = load_suite(path)
    assert [i.kind for i in suite.items] == ["multiple_choice", "generation", "minimal_pair",
                                             "self_consistency", "multiple_choice"]
    assert suite.items[1].max_new_tokens == 48
    assert suite.items[3].samples == 5 and suite.items[3].temperature == 0.7
    assert [v.name for v in suite.items[4].variants] == ["plain", "caps"]  # plain added from the top level
    assert suite.variant_names == ["plain", "caps"]
    assert len(suite.hash) == 64


def _error(tmp_path, items, header=None, raw=None):
    path = write_suite(tmp_path, "bad", items, header)
    if raw is not None:
        path.write_text(raw, encoding="utf-8")
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    return str(info.value)


@pytest.mark.parametrize("item, message", [
    (mc(12, choices=["a", "b", "c", "d"], answer=5), 'bad.jsonl line 3 (item mc-12): "answer" 5 is not an index into 4 choices'),
    ({"id": "x", "kind": "multiple_choice", "part": "p", "prompt": "Q", "answer": 0}, 'line 3 (item x): missing "choices"'),
    ({"id": "x", "kind": "riddle", "part": "p"}, '"kind" \'riddle\' is not one of'),
    ({"id": "x", "kind": "generation", "part": "p", "prompt": "Q", "rule": {"type": "regex", "pattern": "("}},
     '"rule.pattern" is not a valid regular expression'),
    ({"id": "x", "kind": "minimal_pair", "part": "p", "more": "a"}, 'missing "less"'),
    (mc(1, correct=[1]), '"correct" [1] must include "answer" 0'),
    (mc(1, answers=0), 'unknown field "answers"'),
    (mc(1, metadata={"context_condition": "ambig", "question_polarity": "neg", "target_index": 0,
                     "unknown_index": 7}), '"metadata.unknown_index" 7 is not an index into 2 choices'),
    ({"kind": "generation"}, 'line 3: missing "id"'),
])
def test_field_errors(tmp_path, item, message):
    assert message in _error(tmp_path, [mc(0), item])


def test_syntax_error_names_line(tmp_path):
    raw = json.dumps({"suite": "bad", "version": "1"}) + "\n" + json.dumps(mc(0)) + "\n{not json\n"
    assert _error(tmp_path, [], raw=raw).startswith("bad.jsonl line 3: not valid JSON")


def test_duplicate_ids_empty_and_header(tmp_path):
    assert '"id" repeats line 2' in _error(tmp_path, [mc(0), mc(0)])
    assert "has no items" in _error(tmp_path, [])
    assert "is empty" in _error(tmp_path, [], raw="\n\n")
    assert 'missing "version"' in _error(tmp_path, [mc(0)], raw='{"suite": "bad"}\n' + json.dumps(mc(0)))
    assert "make them match" in _error(tmp_path, [mc(0)], header={"suite": "other"})


def test_find_and_list(tmp_path):
    user = tmp_path / "suites"
    user.mkdir()
    write_suite(user, "mine", [mc(0), mc(1)])
    (user / "broken.jsonl").write_text("{oops\n")
    assert find_suite("mine", user).source == "imported"
    assert find_suite(str(user / "mine.jsonl")).id == "mine"
    with pytest.raises(SuiteError, match="unknown suite 'nope'; `glasslm eval list`"):
        find_suite("nope", user)
    listed = {s.id: s for s in list_suites(user)}
    assert listed["mine"].n_items == 2 and listed["mine"].source == "imported"
    assert listed["broken"].error and "not valid JSON" in listed["broken"].error
