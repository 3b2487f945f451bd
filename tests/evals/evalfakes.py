"""Shared helpers for evals tests: a deterministic fake LanguageModel and suite writers.

(Not named conftest.py: a plain module with a unique name avoids clashes with other test
folders; the `history` fixture is re-exported by conftest.py.)
"""

import json

import pytest

from history import History
from evals.runner import LoadedModel


class FakeLM:
    """Deterministic toy model.

    loglikelihood: -(length of the stripped continuation) unless the continuation's text is
    in `favourites` (then +0.0, i.e. the best); minimal pairs therefore prefer the shorter sentence.
    generate: `replies[prompt]` (a str, or a list indexed by seed when temperature > 0), else "".
    """

    name = "fake"

    def __init__(self, favourites=(), replies=None, fail_on=None):
        self.favourites = set(favourites)
        self.replies = replies or {}
        self.fail_on = fail_on
        self.calls = []

    def loglikelihood(self, requests):
        self.calls.append(("ll", len(requests)))
        out = []
        for ctx, cont in requests:
            if self.fail_on and self.fail_on in cont:
                raise RuntimeError("boom")
            text = cont.strip()
            out.append((0.0 if text in self.favourites else -float(len(text)), False))
        return out

    def generate(self, prompt, settings):
        self.calls.append(("gen", settings.get("seed"), settings.get("temperature")))
        reply = self.replies.get(prompt, "")
        if isinstance(reply, list):
            return reply[settings["seed"] % len(reply)] if settings.get("temperature") else reply[0]
        return reply


def fake_opener(lm):
    closed = []

    def load(path, settings):
        return LoadedModel(lm, {"fingerprint": "fake-fp", "path": path or "/fake", "model_type": "fake",
                                "n_params": 1, "precision": settings.precision, "device": "cpu"},
                           lambda: closed.append(True))

    load.closed = closed
    return load


def write_suite(folder, suite_id, items, header=None):
    path = folder / f"{suite_id}.jsonl"
    head = {"suite": suite_id, "version": "1", "title": suite_id.title(), "description": "test suite"}
    head.update(header or {})
    lines = [json.dumps(head)] + [json.dumps(i) for i in items]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def mc(i, prompt="Q?", choices=("yes", "no"), answer=0, part="p", **extra):
    return {"id": f"mc-{i}", "kind": "multiple_choice", "part": part, "prompt": prompt,
            "choices": list(choices), "answer": answer, **extra}


@pytest.fixture
def history(tmp_path):
    with History.open(tmp_path / "h.db") as h:
        yield h
