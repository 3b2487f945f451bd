"""The `glasslm eval` verbs in-process (fake-free: a tiny real checkpoint), errors as one line + exit 2,
and a real subprocess killed with SIGKILL mid-run, then resumed."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from evals.cli import main
from history import History

from evalfakes import mc, write_suite

REPO = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from checkpoints import make_checkpoint

    return make_checkpoint(tmp_path_factory.mktemp("cli-llama"), "llama", "bytelevel")


@pytest.fixture
def db(tmp_path):
    return str(tmp_path / "h.db")


def suite_file(folder, n=6, suite_id="clisuite"):
    items = [mc(i, prompt=f"Question: number {i}?\nAnswer:", choices=["it was tired", "nf4", "the street"],
                answer=i % 3, part="a" if i % 2 else "b") for i in range(n)]
    return write_suite(folder, suite_id, items)


def test_run_show_runs_compare_export(tmp_path, db, tiny, capsys):
    path = suite_file(tmp_path)
    assert main(["run", str(path), "--model", str(tiny), "--precision", "fp32", "--device", "cpu",
                 "--temperature", "0,0.7", "--db", db, "--progress", "none"]) == 0
    out = capsys.readouterr().out
    assert "run 1: clisuite v1" in out and "run 2:" in out and "accuracy" in out
    assert main(["runs", "--db", db]) == 0
    assert "finished" in capsys.readouterr().out
    assert main(["show", "last", "--db", db]) == 0
    shown = capsys.readouterr().out
    assert "part a" in shown and "95% intervals" in shown and "sha256" in shown
    assert main(["compare", "1", "2", "--db", db]) == 0
    assert "0 item results flipped" in capsys.readouterr().out  # temperature does not touch MC scoring
    for fmt_name in ("jsonl", "csv", "json", "md"):
        assert main(["export", "1", "--format", fmt_name, "--db", db]) == 0
        text = capsys.readouterr().out
        assert "mc-0" in text
    target = tmp_path / "out.jsonl"
    assert main(["export", "1", "--db", db, "-o", str(target)]) == 0
    assert len(target.read_text().splitlines()) == 6


def test_import_then_list(tmp_path, db, capsys):
    assert main(["import", "crows", str(FIXTURES / "crows_pairs_anonymized.csv"), "--id", "cp", "--db", db]) == 0
    assert "imported 3 items as suite 'cp'" in capsys.readouterr().out
    assert main(["list", "--db", db]) == 0
    listed = capsys.readouterr().out
    assert "cp" in listed and "imported" in listed


@pytest.mark.parametrize("argv, message", [
    (["run", "no-such-suite"], "unknown suite 'no-such-suite'"),
    (["run", "BAD", "--model", "/nonexistent/model"], "could not load model /nonexistent/model"),
    (["show", "7"], "no eval run 7"),
    (["show", "abc"], "RUN must be a run number"),
    (["run", "BAD", "--temperature", "warm"], "--temperature takes a comma-separated list"),
    (["compare", "1"], "compare needs at least two runs"),
    (["import", "bbq", "/nonexistent.jsonl"], "does not exist"),
])
def test_errors_are_one_line_exit_2(tmp_path, db, capsys, argv, message):
    path = suite_file(tmp_path)
    argv = [str(path) if a == "BAD" else a for a in argv]
    assert main([*argv, "--db", db]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    with History.open(db) as h:
        assert all(r["status"] != "finished" for r in h.runs())


def test_bad_suite_file_and_empty_suite(tmp_path, db, capsys):
    path = suite_file(tmp_path, suite_id="broken")
    path.write_text(path.read_text().replace('"answer": 1', '"answer": 9'))
    assert main(["run", str(path), "--db", db]) == 2
    assert 'broken.jsonl line 3 (item mc-1): "answer" 9 is not an index into 3 choices' in capsys.readouterr().err
    empty = write_suite(tmp_path, "empty", [])
    assert main(["run", str(empty), "--db", db]) == 2
    assert "has no items" in capsys.readouterr().err


def test_not_a_database_and_locked(tmp_path, capsys):
    text = tmp_path / "notes.db"
    text.write_text("my notes\n")
    assert main(["runs", "--db", str(text)]) == 2
    assert "not a glasslm database" in capsys.readouterr().err and text.read_text() == "my notes\n"


def test_the_progress_bar_is_tqdms_on_stderr_one_per_run(tmp_path, db, tiny, capsys):
    path = suite_file(tmp_path)
    assert main(["run", str(path), "--model", str(tiny), "--precision", "fp32", "--device", "cpu",
                 "--temperature", "0,0.7", "--db", db, "--progress", "bar"]) == 0
    captured = capsys.readouterr()
    assert "progress run=" not in captured.out
    final = [line for line in captured.err.replace("\r", "\n").splitlines() if "6/6" in line]
    assert any("clisuite [run 1]" in line for line in final) and any("clisuite [run 2]" in line for line in final)
    assert all("items/s" in line for line in final)  # tqdm's rate, with the unit


def test_sigkill_mid_run_then_resume(tmp_path, db, tiny):
    n = 150  # ~5 s of work in the child; it is killed after 5 items
    path = suite_file(tmp_path, n=n, suite_id="long")
    cmd = [sys.executable, "-m", "evals", "run", str(path), "--model", str(tiny), "--precision", "fp32",
           "--device", "cpu", "--db", db, "--progress", "lines"]
    child = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        for line in child.stdout:  # the child announces each committed item
            if line.startswith("progress") and int(line.split("done=")[1].split()[0]) >= 5:
                child.send_signal(signal.SIGKILL)
                break
        else:
            pytest.fail(f"the child ended without progress: {child.stderr.read()}")
    finally:
        child.wait()
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    with History.open(db) as h:
        run = h.runs()[0]
        assert run["status"] == "running" and 5 <= run["n_done"] < n  # killed: nothing marked it
    assert main(["resume", str(run["id"]), "--db", db, "--progress", "none"]) == 0
    with History.open(db) as h:
        run = h.run(run["id"])
        ids = [r["item_id"] for r in h.results(run["id"])]
    assert run["status"] == "finished" and run["metrics"]["overall"]["accuracy"]["n"] == n
    assert sorted(ids) == sorted(f"mc-{i}" for i in range(n)) and len(ids) == len(set(ids))
