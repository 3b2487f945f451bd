"""A suite against `glasslm serve` (or any OpenAI-compatible server) at several concurrencies: items/s.

`python -m benchmarks.serve_throughput [--suite calibration] [--limit 40] [--concurrency 1,4,16]
[--model PATH | --endpoint URL]` starts `glasslm serve` as a child process on a free port (unless
--endpoint points at a running server, e.g. vLLM), runs the suite once per concurrency through
`evals` exactly as `glasslm eval run --endpoint` does (into a temporary history), and prints a
Markdown table of items/s, with the headline metric so equal results are visible. glasslm serve
runs one request at a time, so its items/s mostly stay flat: concurrency pays off on servers that
batch requests (vLLM's continuous batching). It asserts nothing about speed.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

SERVING = re.compile(r"serving (\S+) at (http://\S+/v1)")


def start_server(model: str | None, precision: str) -> tuple[subprocess.Popen, str]:
    """`glasslm serve --port 0` as a child; (process, base URL) once it says where it listens."""
    command = [sys.executable, "-m", "desktop.cli", "serve", "--port", "0", "--log-level", "warning",
               "--precision", precision]
    if model:
        command += ["--model", model]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1])
    lines = []
    for line in process.stderr:
        lines.append(line)
        found = SERVING.search(line)
        if found:  # keep reading what it writes, so a full pipe never blocks the server
            threading.Thread(target=lambda: [None for _ in process.stderr], daemon=True).start()
            return process, found.group(2)
    process.wait()
    raise SystemExit("glasslm serve did not start:\n" + "".join(lines[-5:]))


def run_suite(url: str, suite_name: str, limit: int | None, concurrency: int) -> tuple[float, int, str]:
    """(seconds, items, headline metric) of one run of the suite against the server at url."""
    from history import History
    from evals.remote_backend import plan_remote_runs
    from evals.runner import RunSettings, RunSpec, Runner
    from evals.suite import find_suite, user_suites_dir

    with tempfile.TemporaryDirectory() as folder:
        db = Path(folder) / "bench.db"
        suite = find_suite(suite_name, user_suites_dir(db))
        plan = plan_remote_runs(url, None, os.environ.get("GLASSLM_API_KEY"), concurrency, 300.0, [suite])
        with History.open(db) as history:
            began = time.perf_counter()
            run_id = Runner(history, opener=plan.opener, n_boot=200).start(
                RunSpec(plan.suites[0], plan.model_path, RunSettings(), limit))
            seconds = time.perf_counter() - began
            run = history.run(run_id)
    overall = (run.get("metrics") or {}).get("overall", {})
    name = next((n for n in ("accuracy", "mc2", "stereotype_share") if n in overall), None)
    headline = f"{name} {overall[name]['value']:.4f}" if name else ""
    return seconds, run["n_done"], headline


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.serve_throughput", description=__doc__.split("\n")[0])
    parser.add_argument("--suite", default="calibration")
    parser.add_argument("--limit", type=int, default=40, help="items of the suite (default 40; 0 = all)")
    parser.add_argument("--concurrency", default="1,4,16", help="comma list of requests in flight")
    parser.add_argument("--model", help="what glasslm serve loads (default: its default model)")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--endpoint", help="a running OpenAI-compatible server instead of starting glasslm serve")
    args = parser.parse_args(argv)
    levels = [int(x) for x in args.concurrency.split(",") if x.strip()]
    process = None
    url = args.endpoint
    if url is None:
        process, url = start_server(args.model, args.precision)
    try:
        rows = []
        for level in levels:
            seconds, items, headline = run_suite(url, args.suite, args.limit or None, level)
            rows.append((level, items, seconds, headline))
            print(f"concurrency {level}: {items} items in {seconds:.1f} s", file=sys.stderr, flush=True)
    finally:
        if process is not None:
            process.terminate()
            process.wait(timeout=30)
    print(f"suite {args.suite} ({rows[0][1] if rows else 0} items) against {url}\n")
    print("| concurrency | items | seconds | items/s | result |")
    print("|---:|---:|---:|---:|---|")
    for level, items, seconds, headline in rows:
        print(f"| {level} | {items} | {seconds:.2f} | {items / seconds:.2f} | {headline} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
