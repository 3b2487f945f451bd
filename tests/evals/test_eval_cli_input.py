"""`glasslm eval` with careless input: bad settings anywhere in a matrix, huge numbers, text that is
not UTF-8, runs resumed from another folder or after a reused process id, Ctrl-C while starting,
output into a closed pipe, and items longer than the context window."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from evals.cli import main
from evals.errors import RunError
from history import History
from evals.runner import RunSpec, Runner
from evals.suite import find_suite, load_suite

from evalfakes import FakeLM, fake_opener, mc, write_suite

REPO = Path(__file__).resolve().parents[2]
HUGE = "99999999999999999999999"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from checkpoints import make_checkpoint

    return make_checkpoint(tmp_path_factory.mktemp("input-llama"), "llama", "bytelevel")


def small_suite(folder, n=4, suite_id="inputs"):
    return write_suite(folder, suite_id, [mc(i, prompt=f"Question {i}?\nAnswer:", choices=["yes", "no"])
                                          for i in range(n)])


@pytest.mark.parametrize("flags, message", [
    (["--precision", "fp32,fp3"], "unknown precision 'fp3'"),
    (["--temperature", "-1"], "temperature must be 0 (greedy) or more, not -1.0"),
    (["--temperature", "0,nan"], "temperature must be a finite number, not nan"),
    (["--top-p", "2"], "top_p must be in (0, 1]"),
    (["--top-k", "-1"], "top-k must be a whole number from 0"),
    (["--batch-size", "0"], "batch-size must be a whole number from 1 to 4096, not 0"),
    (["--batch-size", "-1"], "batch-size must be a whole number from 1 to 4096, not -1"),
    (["--seed", f"0,{HUGE}"], f"seed must be a whole number from 0 to 9223372036854775807, not {HUGE}"),
    (["--limit", HUGE], "--limit must be a whole number from 1"),
    (["--device", "cuda:x"], "unknown device 'cuda:x'"),
    (["--model", ""], "--model is empty"),
])
def test_the_whole_matrix_is_checked_before_any_run_row(tmp_path, capsys, flags, message):
    db = tmp_path / "h.db"
    assert main(["run", str(small_suite(tmp_path)), "--db", str(db), "--progress", "none", *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not db.exists()  # not even opened: nothing to resume, nothing recorded


def test_earlier_runs_are_summarized_when_a_later_one_cannot_load(tmp_path, tiny, capsys):
    broken = tmp_path / "broken-model"
    broken.mkdir()  # exists (so the matrix check passes) but holds no model
    argv = ["run", str(small_suite(tmp_path)), "--model", str(tiny), "--model", str(broken), "--precision", "fp32",
            "--device", "cpu", "--db", str(tmp_path / "h.db"), "--progress", "none"]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "run 1: inputs v1" in captured.out and "accuracy" in captured.out
    assert "could not load model" in captured.err


def test_resume_recorded_settings_are_checked_too(tmp_path, history):
    suite = load_suite(small_suite(tmp_path))
    run_id = Runner(history, opener=fake_opener(FakeLM()), should_stop=lambda: True, items_per_batch=1,
                    n_boot=10).start(RunSpec(suite, "/m"))
    settings = {**history.run(run_id)["settings"], "top_p": 7.0}  # as an older glasslm let through
    history.update_run(run_id, settings=settings)
    with pytest.raises(RunError, match="recorded with settings that cannot run"):
        Runner(history, opener=fake_opener(FakeLM())).resume(run_id)


@pytest.mark.parametrize("argv, message", [
    (["show", HUGE], f"there is no run {HUGE}"),
    (["show", "0"], "there is no run 0"),
    (["export", f"-{HUGE}"], "there is no run"),
    (["runs", "--limit", HUGE], "--limit must be a whole number from 1"),
    (["show", "caf\udce9"], "the argument 'caf\\xe9' is not valid UTF-8 text"),
    (["run", "s\udcff.jsonl"], "is not valid UTF-8 text"),
    (["run", "calibration", "--system-prompt", "\udcff"], "is not valid UTF-8 text"),
])
def test_huge_numbers_and_undecodable_text_are_one_line(tmp_path, capsys, argv, message):
    assert main([*argv, "--db", str(tmp_path / "h.db")]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_a_run_resumes_from_any_folder(tmp_path, monkeypatch, history):
    project = tmp_path / "project"
    (project / "suites").mkdir(parents=True)
    small_suite(project / "suites", n=6, suite_id="mine")
    monkeypatch.chdir(project)
    suite = find_suite("suites/mine.jsonl")  # a relative path, as typed
    run_id = Runner(history, opener=fake_opener(FakeLM()), items_per_batch=2, should_stop=lambda: True,
                    n_boot=10).start(RunSpec(suite, "/m"))
    assert history.run(run_id)["suite_path"] == str(project / "suites" / "mine.jsonl")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    Runner(history, opener=fake_opener(FakeLM()), n_boot=10).resume(run_id)
    assert history.run(run_id)["status"] == "finished" and history.run(run_id)["n_done"] == 6
    gone = Runner(history, opener=fake_opener(FakeLM()), should_stop=lambda: True, items_per_batch=2,
                  n_boot=10).start(RunSpec(suite, "/m"))
    (project / "suites" / "mine.jsonl").unlink()
    with pytest.raises(RunError, match="the suite file of run 2 .* is gone"):
        Runner(history, opener=fake_opener(FakeLM())).resume(gone)


def _running_in(history, suite, pid):
    run_id = Runner(history, opener=fake_opener(FakeLM()), items_per_batch=1, should_stop=lambda: True,
                    n_boot=10).start(RunSpec(suite, "/m"))
    history.update_run(run_id, status="running", pid=pid)  # as if that process had been killed mid-run
    return run_id


def test_a_reused_process_id_does_not_block_resume(tmp_path, history):
    suite = load_suite(small_suite(tmp_path))
    other = subprocess.Popen(["cat"], stdin=subprocess.PIPE)  # alive, and plainly not glasslm
    python = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE)
    try:
        Runner(history, opener=fake_opener(FakeLM()), n_boot=10).resume(_running_in(history, suite, other.pid))
        held = _running_in(history, suite, python.pid)  # alive and Python: it might be glasslm
        with pytest.raises(RunError, match=f"`glasslm eval resume {held} --force` takes the run over"):
            Runner(history, opener=fake_opener(FakeLM())).resume(held)
        Runner(history, opener=fake_opener(FakeLM()), n_boot=10).resume(held, force=True)
        assert history.run(held)["status"] == "finished"
    finally:
        for child in (other, python):
            child.stdin.close()
            child.wait()


def test_output_into_a_closed_pipe_ends_quietly(tmp_path):
    db = tmp_path / "h.db"
    suite = load_suite(write_suite(tmp_path, "wide", [mc(i, prompt="Q" * 2000) for i in range(250)]))
    with History.open(db) as h:
        Runner(h, opener=fake_opener(FakeLM()), n_boot=10).start(RunSpec(suite, "/m"))
    child = subprocess.Popen([sys.executable, "-m", "evals", "export", "1", "--db", str(db)], cwd=REPO,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout.read(10)  # like `| head -c 10`: read a little, then go away
    child.stdout.close()
    err = child.stderr.read().decode()
    child.stderr.close()
    assert child.wait() == 141 and err == ""


def test_ctrl_c_while_starting_up_is_quiet(tmp_path):
    script = (
        "import importlib.abc, os, signal, sys\n"
        "class CtrlC(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name == 'torch':\n"
        "            os.kill(os.getpid(), signal.SIGINT)  # a real SIGINT while the big imports run\n"
        "        return None\n"
        "sys.meta_path.insert(0, CtrlC())\n"
        "from desktop.cli import main\n"
        f"sys.exit(main(['eval', 'runs', '--db', {str(tmp_path / 'h.db')!r}]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True)
    assert done.returncode == 130 and done.stderr == "" and done.stdout == ""


def test_items_longer_than_the_context_window_are_counted_and_shown(tmp_path, capsys):
    from checkpoints import make_checkpoint

    model = make_checkpoint(tmp_path / "short-window", "llama", "bytelevel", max_position_embeddings=32)
    long_prompt = "A long question that goes on and on about many things " * 3
    items = [mc(0, prompt=long_prompt), mc(1, prompt="Short?"), mc(2, prompt=long_prompt + "again"),
             {"id": "gen-long", "kind": "generation", "part": "g", "prompt": long_prompt,
              "rule": {"type": "normalized", "target": "x"}, "max_new_tokens": 2},
             {"id": "gen-short", "kind": "generation", "part": "g", "prompt": "Hi",
              "rule": {"type": "normalized", "target": "x"}, "max_new_tokens": 2}]
    suite = write_suite(tmp_path, "window", items)
    db = str(tmp_path / "h.db")
    assert main(["run", str(suite), "--model", str(model), "--precision", "fp32", "--device", "cpu",
                 "--chat-template", "off", "--db", db, "--progress", "none"]) == 0
    assert "note: 3 items were longer than the model's context window" in capsys.readouterr().out
    with History.open(db) as h:
        assert h.run(1)["n_truncated"] == 3
    assert main(["show", "1", "--db", db]) == 0
    assert "3 items were longer than the model's context window" in capsys.readouterr().out
