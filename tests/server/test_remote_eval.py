"""`glasslm eval run --endpoint`: a suite scored through `glasslm serve` equals the same suite scored in
process; the endpoint and served model are the run's model identity; runs resume; a server that gives
no log-probabilities gets the suites and parts it cannot run named, and the rest runs."""
import json
from pathlib import Path

import pytest
from fastapi.responses import JSONResponse

from evals.cli import main as eval_main
from history import History
from evals.runner import RunSettings, RunSpec, Runner, engine_opener
from evals.suite import load_suite

from serving import BARD, RunningServer

SUITES = Path(__file__).resolve().parents[2] / "evals" / "suites"


def mixed_suite(folder: Path) -> Path:
    """Real items of the built-in suites: multiple choice, generation, self-consistency, minimal pairs."""
    rows = {}
    for name in ("hallucination", "bias"):
        for line in (SUITES / f"{name}.jsonl").read_text().splitlines():
            row = json.loads(line)
            if "kind" in row:
                rows.setdefault(row["kind"], []).append(row)
    short = [dict(row, max_new_tokens=12) for row in rows["generation"][:2]]  # kept short: the CPU is slow
    items = rows["multiple_choice"][:6] + short + rows["minimal_pair"][:3]
    consistency = dict(rows["self_consistency"][0], samples=2, max_new_tokens=8)
    path = folder / "mixed.jsonl"
    header = {"suite": "mixed", "version": "1", "title": "Mixed kinds"}
    path.write_text("\n".join(json.dumps(r) for r in [header, *items, consistency]) + "\n")
    return path


def results_by_item(db: Path, run_id: int) -> dict:
    with History.open(db, writable=False) as history:
        return {(r["item_id"], r["variant"]): r for r in history.results(run_id)}


def test_a_suite_through_glasslm_serve_equals_the_in_process_run(served, tmp_path, capsys):
    suite_path = mixed_suite(tmp_path)
    db = tmp_path / "history.db"
    with History.open(db) as history:
        local_id = Runner(history, opener=engine_opener, n_boot=50).start(
            RunSpec(load_suite(suite_path), str(BARD), RunSettings(device="cpu", precision="fp32")))
    assert eval_main(["run", str(suite_path), "--endpoint", served.base_url, "--db", str(db), "--progress", "none",
                      "--concurrency", "3"]) == 0
    out = capsys.readouterr().out
    with History.open(db, writable=False) as history:
        remote_id = history.latest_run_id()
        run = history.run(remote_id)
        model = history.model(run["model_id"])
        local_metrics, remote_metrics = history.run(local_id)["metrics"], run["metrics"]
    assert run["status"] == "finished" and run["n_done"] == run["n_items"] == 12
    assert run["model_path"] == model["path"] == f"{served.base_url}#bard-mini"
    assert model["info"]["served_model"] == "bard-mini" and model["fingerprint"].startswith("remote-")
    assert model["info"]["endpoint"] == served.base_url and model["info"]["card"]["max_model_len"] == 256
    assert "mixed" in out
    local, remote = results_by_item(db, local_id), results_by_item(db, remote_id)
    assert local.keys() == remote.keys() and len(local) >= 12
    for key, mine in local.items():
        theirs = remote[key]
        assert theirs["output"] == mine["output"], key
        assert theirs["correct"] == mine["correct"], key
        if mine["choice_logprobs"]:
            assert theirs["choice_logprobs"] == pytest.approx(mine["choice_logprobs"], abs=1e-3), key
    for name, value in local_metrics["overall"].items():
        if isinstance(value, dict) and value.get("value") is not None:
            assert remote_metrics["overall"][name]["value"] == pytest.approx(value["value"], rel=1e-5, abs=1e-5), name


def test_an_interrupted_remote_run_resumes_against_the_same_server(served, tmp_path):
    from evals.remote_backend import remote_opener

    suite = load_suite(mixed_suite(tmp_path))
    db = tmp_path / "h.db"
    path = f"{served.base_url}#bard-mini"
    batches = []
    with History.open(db) as history:
        runner = Runner(history, opener=remote_opener(concurrency=2), items_per_batch=4, n_boot=20,
                        should_stop=lambda: batches.append(1) or len(batches) >= 1)
        run_id = runner.start(RunSpec(suite, path, RunSettings()))
        assert history.run(run_id)["status"] == "interrupted"
        assert 0 < history.run(run_id)["n_done"] < 12
    assert eval_main(["resume", str(run_id), "--db", str(db), "--progress", "none"]) == 0
    with History.open(db, writable=False) as history:
        assert history.run(run_id)["status"] == "finished" and history.run(run_id)["n_done"] == 12


def test_a_server_without_prompt_logprobs_runs_what_it_can(bard, tmp_path, capsys):
    """Like Ollama: /v1/completions answers, but with no logprobs for echo."""
    async def no_logprobs(request, call_next):
        if request.url.path == "/v1/completions":
            return JSONResponse({"id": "x", "object": "text_completion", "created": 0, "model": "bard-mini",
                                 "choices": [{"index": 0, "text": "", "logprobs": None, "finish_reason": "length"}]})
        return await call_next(request)

    running = RunningServer(bard, prepare=lambda app: app.middleware("http")(no_logprobs))
    try:
        suite_path = mixed_suite(tmp_path)
        db = tmp_path / "h.db"
        status = eval_main(["run", str(suite_path), "calibration", "--endpoint", running.base_url, "--db", str(db),
                            "--progress", "none"])
        err = capsys.readouterr().err
    finally:
        running.stop()
    assert status == 0, err
    assert "cannot score" in err
    assert "calibration: not run (all 243 items are multiple_choice)" in err
    assert "mixed: 9 of 12 items left out (minimal_pair, multiple_choice); the rest runs" in err
    with History.open(db, writable=False) as history:
        runs = history.runs(limit=10)
        assert [r["suite_id"] for r in runs] == ["mixed"]
        assert runs[0]["status"] == "finished" and runs[0]["n_items"] == 3


def test_remote_run_errors_are_one_line(tmp_path, capsys):
    import socket

    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    db = tmp_path / "h.db"
    assert eval_main(["run", "calibration", "--endpoint", f"http://127.0.0.1:{port}/v1", "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert "connection refused" in err and err.count("\n") == 1
    assert eval_main(["run", "calibration", "--endpoint", "ftp://x", "--db", str(db)]) == 2
    assert "http(s) URL" in capsys.readouterr().err
    assert eval_main(["run", "calibration", "--endpoint", "http://127.0.0.1:1", "--model", "x", "--db", str(db)]) == 2
    assert "leave out --model" in capsys.readouterr().err


def test_an_echo_off_by_one_position_is_caught_before_it_scores_anything(bard):
    """llama-cpp-python's server echoes each prompt token's log-probability from the wrong position; the probe
    compares the server's echo with its own next-token answer and refuses to score."""
    import json as _json

    from engine import remote
    from evals.remote_backend import probe_scoring

    async def shift_echo(request, call_next):
        response = await call_next(request)
        if request.url.path != "/v1/completions":
            return response
        data = _json.loads(b"".join([chunk async for chunk in response.body_iterator]))
        for choice in data["choices"]:
            values = (choice.get("logprobs") or {}).get("token_logprobs") or []
            if len(values) > 2:  # an echo: every value moves one position to the left
                choice["logprobs"]["token_logprobs"] = [None, *values[2:], values[-1]]
        return JSONResponse(data)

    honest = RunningServer(bard)
    shifted = RunningServer(bard, prepare=lambda app: app.middleware("http")(shift_echo))
    try:
        assert probe_scoring(remote.connect(honest.base_url)).ok
        verdict = probe_scoring(remote.connect(shifted.base_url))
    finally:
        honest.stop()
        shifted.stop()
    assert not verdict.ok and "off by one position" in verdict.reason
