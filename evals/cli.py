"""The `glasslm eval` command group: list, run, runs, show, compare, export, import, resume.

`register(subparsers)` adds the group to the top-level `glasslm` parser (desktop/cli.py);
each verb sets `handler(args) -> exit status`. `main(argv)` runs the group on its own
(`python -m evals ...`). Only parsing and printing: the work is in runner.py, report.py,
export.py and importers/. User errors are `EvalError`s (and the engine's `EngineError`):
one line on stderr, exit status 2; Ctrl-C marks the run interrupted and exits 130.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from . import export as fmt
from .errors import USER_ERRORS, EvalError, RunError
from history import History, db_path
from history.base import SQLITE_MAX_INT as MAX_INT
from .report import build_report, compare
from .suite import find_suite, list_suites, user_suites_dir


def register(subparsers) -> None:
    group = subparsers.add_parser("eval", help="evaluate models on suites and inspect past runs")
    verbs = group.add_subparsers(dest="eval_command", metavar="VERB", required=True)
    db = argparse.ArgumentParser(add_help=False)
    db.add_argument("--db", help="history database (default: $GLASSLM_DB or the user data folder)")

    p = verbs.add_parser("list", parents=[db], help="the suites, built-in and imported")
    p.set_defaults(handler=cmd_list)

    p = verbs.add_parser("run", parents=[db], help="run suites x models x settings")
    p.add_argument("suites", nargs="+", metavar="SUITE", help="suite id or path to a .jsonl suite")
    p.add_argument("--model", action="append", help="model folder (repeatable; default: the bundled model)")
    p.add_argument("--precision", default="auto", help="comma list, e.g. bf16,nf4")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")
    p.add_argument("--temperature", default="0", help="comma list, e.g. 0,0.7 (generation items)")
    p.add_argument("--seed", default="0", help="comma list of run seeds")
    p.add_argument("--top-p", type=float, default=1.0)
    p.add_argument("--top-k", type=int, default=0)
    p.add_argument("--limit", type=int, help="score only the first N items of each suite")
    p.add_argument("--batch-size", type=int, default=16, help="sequences per forward (results do not depend on it)")
    p.add_argument("--chat-template", choices=("auto", "on", "off"), default="auto",
                   help="wrap generation prompts in the model's chat template")
    p.add_argument("--system-prompt", help="system prompt (with a chat template)")
    p.add_argument("--progress", choices=("bar", "lines", "none"), help="default: bar on a terminal, else none")
    _remote_arguments(p, endpoint=True)
    p.set_defaults(handler=cmd_run)

    p = verbs.add_parser("runs", parents=[db], help="past runs, newest first")
    p.add_argument("--suite", help="only runs of this suite")
    p.add_argument("--limit", type=int, default=50)
    p.set_defaults(handler=cmd_runs)

    p = verbs.add_parser("show", parents=[db], help="a run's settings and metrics with 95%% intervals")
    p.add_argument("run", metavar="RUN", help="run number, or 'last'")
    p.set_defaults(handler=cmd_show)

    p = verbs.add_parser("compare", parents=[db], help="metric deltas with intervals and flipped items")
    p.add_argument("runs", nargs="+", metavar="RUN", help="two or more runs; each is compared with the first")
    p.add_argument("--all", action="store_true", help="list every flipped item")
    p.set_defaults(handler=cmd_compare)

    p = verbs.add_parser("export", parents=[db], help="write a run's results")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--format", choices=fmt.FORMATS, default="jsonl")
    p.add_argument("-o", "--output", help="file to write (default: standard output)")
    p.set_defaults(handler=cmd_export)

    p = verbs.add_parser("import", parents=[db], help="turn a TruthfulQA, BBQ, CrowS-Pairs or HaluEval file into a suite")
    # Checked by import_suite (importing the importers here would load the engine for every verb).
    p.add_argument("kind", metavar="KIND", help="truthfulqa | bbq | crows (or crows-pairs, crows_pairs) | halueval")
    p.add_argument("path", metavar="PATH")
    p.add_argument("--id", help="suite id (default: KIND)")
    p.set_defaults(handler=cmd_import)

    p = verbs.add_parser("resume", parents=[db], help="finish an interrupted or killed run")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--progress", choices=("bar", "lines", "none"))
    p.add_argument("--force", action="store_true",
                   help="take over a run marked running by a live process that is not glasslm (a reused process id)")
    _remote_arguments(p, endpoint=False)
    p.set_defaults(handler=cmd_resume)


def _remote_arguments(p, endpoint: bool) -> None:
    """Runs against an OpenAI-compatible server (evals/remote_backend.py); resume needs only the key and pacing."""
    if endpoint:
        p.add_argument("--endpoint", metavar="URL", help="an OpenAI-compatible server instead of --model, e.g. "
                       "http://127.0.0.1:8000/v1 (vLLM, llama.cpp, Ollama, TGI, glasslm serve)")
        p.add_argument("--remote-model", metavar="NAME", help="the served model id (default: the only one served)")
    p.add_argument("--api-key", help="the server's API key (default: $GLASSLM_API_KEY); never stored")
    p.add_argument("--concurrency", type=int, default=4, help="requests in flight to a server (default 4)")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per request to a server (default 120)")


# ---- verbs -----------------------------------------------------------------------------------

def cmd_list(args) -> int:
    rows = [[s.id, s.version, str(s.n_items), s.source, s.title if not s.error else f"ERROR: {s.error}"]
            for s in list_suites(_suites_dir(args))]
    print(fmt.table(rows, ["suite", "version", "items", "source", "title"]) if rows else "no suites found")
    return 0


def cmd_run(args) -> int:
    from .runner import RunSettings, Runner, engine_opener, expand_matrix, validate_specs

    if args.limit is not None and args.limit < 1:
        raise RunError("--limit must be at least 1")
    for model in args.model or []:
        if not model.strip():
            raise RunError("--model is empty; give a model folder or file (or leave --model out for the default)")
    suites = [find_suite(name, _suites_dir(args)) for name in args.suites]
    models, opener = args.model or [None], engine_opener
    if args.endpoint is not None:
        from .remote_backend import plan_remote_runs

        if args.model or args.precision != "auto" or args.device != "auto":
            raise RunError("--endpoint runs the server's model as the server loaded it; leave out --model, "
                           "--precision and --device")
        plan = plan_remote_runs(args.endpoint, args.remote_model, args.api_key, args.concurrency, args.timeout, suites)
        models, opener, suites = [plan.model_path], plan.opener, plan.suites
        for line in plan.notes:
            print(f"note: {line}", file=sys.stderr)
    base = RunSettings(device=args.device, top_p=args.top_p, top_k=args.top_k, batch_size=args.batch_size,
                       use_chat_template={"auto": "auto", "on": True, "off": False}[args.chat_template],
                       system_prompt=args.system_prompt)
    specs = expand_matrix(suites, models, _list(args.precision, str, "--precision"),
                          _list(args.temperature, float, "--temperature"), _list(args.seed, int, "--seed"),
                          base=base, limit=args.limit)
    validate_specs(specs, opener)  # the whole matrix, before the database is even opened
    with History.open(_db(args)) as history:
        progress = _Progress(args.progress)
        runner = Runner(history, opener=opener, on_progress=progress, should_stop=lambda: progress.output_closed)
        try:
            run_ids = runner.start_many(specs)
        except KeyboardInterrupt:
            progress.close()
            run_id = runner.current_run_id
            hint = f"; `glasslm eval resume {run_id}` finishes it" if run_id is not None else ""
            print(f"glasslm: interrupted{hint}", file=sys.stderr)
            return 130
        except USER_ERRORS:
            progress.close()
            for run_id in runner.run_ids:  # the runs that finished before the one that failed
                run = history.run(run_id)
                if run["status"] == "finished":
                    _print_summary(run)
            raise
        progress.close()
        for run_id in run_ids:
            _print_summary(history.run(run_id))
    return 0


def cmd_resume(args) -> int:
    from .remote_backend import remote_opener
    from .runner import Runner

    if not 1 <= args.concurrency <= 1024:
        raise RunError(f"--concurrency must be a whole number from 1 to 1024, not {args.concurrency}")
    opener = remote_opener(api_key=args.api_key, concurrency=args.concurrency, timeout_s=args.timeout)
    with History.open(_db(args)) as history:
        run_id = _run_id(history, args.run)
        progress = _Progress(args.progress)
        try:
            Runner(history, opener=opener, on_progress=progress, should_stop=lambda: progress.output_closed).resume(
                run_id, force=args.force)
        except KeyboardInterrupt:
            progress.close()
            print(f"glasslm: interrupted; `glasslm eval resume {run_id}` finishes it", file=sys.stderr)
            return 130
        progress.close()
        _print_summary(history.run(run_id))
    return 0


def cmd_runs(args) -> int:
    if not 1 <= args.limit <= MAX_INT:
        raise EvalError(f"--limit must be a whole number from 1 to {MAX_INT}, not {args.limit}")
    with History.open(_db(args), writable=False) as history:
        runs = history.runs(limit=args.limit, suite_id=args.suite)
    rows = []
    for r in runs:
        s = r.get("settings") or {}
        main = _headline(r.get("metrics"))
        rows.append([str(r["id"]), r["status"], r["suite_id"], fmt.model_name(r.get("model_path")),
                     str(s.get("precision", "?")), str(s.get("temperature", "?")), str(r["seed"]),
                     f"{r['n_done']}/{r['n_items']}", r["started_at"][:19].replace("T", " "), main])
    print(fmt.table(rows, ["run", "status", "suite", "model", "precision", "T", "seed", "items", "started (UTC)",
                           "headline"]) if rows else "no runs yet; start one with `glasslm eval run SUITE`")
    return 0


def cmd_show(args) -> int:
    with History.open(_db(args), writable=False) as history:
        run = history.run(_run_id(history, args.run))
        report = run.get("metrics")
        partial = report is None
        if partial:
            results = history.results(run["id"])
            report = build_report(results, seed=run["seed"]) if results else None
    print(fmt.run_header(run))
    print()
    if report is None:
        print("no results yet")
    else:
        if partial:
            print(f"(partial: {run['n_done']} of {run['n_items']} items; the run is {run['status']})")
        print(fmt.report_text(report))
    return 0


def cmd_compare(args) -> int:
    if len(args.runs) < 2:
        raise EvalError("compare needs at least two runs, e.g. `glasslm eval compare 3 4`")
    with History.open(_db(args), writable=False) as history:
        ids = [_run_id(history, r) for r in args.runs]
        base = history.run(ids[0])
        base_results = history.results(ids[0])
        for other_id in ids[1:]:
            other = history.run(other_id)
            if other["suite_id"] != base["suite_id"]:
                print(f"note: run {other_id} is on suite {other['suite_id']}, run {ids[0]} on {base['suite_id']}; "
                      "only items with the same ids are paired")
            diff = compare(base_results, history.results(other_id), seed=base["seed"])
            print(fmt.compare_text(base, other, diff, max_flips=10**9 if args.all else 20))
            print()
    return 0


def cmd_export(args) -> int:
    with History.open(_db(args), writable=False) as history:
        run = history.run(_run_id(history, args.run))
        results = history.results(run["id"])
    report = run.get("metrics") or (build_report(results, seed=run["seed"]) if results else None)
    text = fmt.export(run, results, report, args.format)
    if args.output is not None:
        fmt.write_file(args.output, text, history_path=_db(args))
        print(f"wrote {len(results)} results to {args.output}", file=sys.stderr)
    else:
        for start in range(0, len(text), 1 << 16):  # in pieces: a reader that goes away (`| head`) is noticed
            sys.stdout.write(text[start: start + (1 << 16)])
    return 0


def cmd_import(args) -> int:
    from .importers import import_suite

    suite = import_suite(args.kind, Path(args.path), _suites_dir(args), suite_id=args.id)
    print(f"imported {len(suite.items)} items as suite {suite.id!r} ({suite.path}); "
          f"run it with `glasslm eval run {suite.id}`")
    return 0


# ---- helpers ---------------------------------------------------------------------------------

def _db(args) -> Path:
    """--db, else $GLASSLM_DB, else the default; an empty value is an error, never the default."""
    return db_path(getattr(args, "db", None))


def _suites_dir(args) -> Path:
    return user_suites_dir(_db(args))


def _run_id(history: History, ref: str) -> int:
    if ref in ("last", "latest"):
        return history.latest_run_id()
    try:
        run_id = int(ref)
    except ValueError:
        raise EvalError(f"RUN must be a run number or 'last', not {ref!r}; `glasslm eval runs` lists them") from None
    if not 1 <= run_id <= MAX_INT:
        raise EvalError(f"there is no run {ref}; `glasslm eval runs` lists them")
    return run_id


def _list(text: str, kind, flag: str) -> list:
    try:
        values = [kind(x.strip()) for x in text.split(",") if x.strip()]
    except ValueError:
        raise EvalError(f"{flag} takes a comma-separated list, e.g. {flag} 0,0.7; got {text!r}") from None
    if not values:
        raise EvalError(f"{flag} is empty")
    return values


def _headline(report: dict | None) -> str:
    if not report:
        return ""
    overall = report.get("overall", {})
    for name in ("accuracy", "mc2", "stereotype_share", "generation_accuracy", "hallucination_rate", "agreement"):
        if name in overall and overall[name].get("value") is not None:
            return f"{name} {fmt.estimate(overall[name])}"
    return ""


def _print_summary(run: dict) -> None:
    print(fmt.run_title(run))
    report = run.get("metrics")
    if report:
        print(fmt.metrics_table(report["overall"]))
    note = fmt.truncation_note(run)
    if note:
        print(f"note: {note}")
    print()


class _Progress:
    """Progress callback: a tqdm bar on stderr (one per run; a resumed run starts where it stopped),
    plain `progress ...` lines on stdout for scripts, or nothing."""

    def __init__(self, mode: str | None):
        self.mode = mode or ("bar" if sys.stderr.isatty() else "none")
        self.bar = None
        self.bar_run: int | None = None
        self.output_closed = False  # the reader went away (`| head`): the runner stops, resumable

    def __call__(self, p) -> None:
        try:
            self._show(p)
        except BrokenPipeError:
            self.output_closed = True
            self.bar = None

    def _show(self, p) -> None:
        if self.mode == "lines":
            eta = "?" if p.eta_s is None else f"{p.eta_s:.1f}"
            print(f"progress run={p.run_id} done={p.done} total={p.total} items_per_s={p.items_per_s:.2f} eta_s={eta}",
                  flush=True)
        elif self.mode == "bar":
            from tqdm import tqdm

            if self.bar is None or self.bar_run != p.run_id:
                self.close()
                self.bar = tqdm(total=p.total, initial=p.done, desc=f"{p.suite_id} [run {p.run_id}]", unit=" items",
                                file=sys.stderr, dynamic_ncols=True, mininterval=0.1)
                self.bar_run = p.run_id
            self.bar.update(p.done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            bar, self.bar = self.bar, None
            try:
                bar.close()
            except BrokenPipeError:
                self.output_closed = True

def main(argv: list[str] | None = None) -> int:
    """`python -m evals VERB ...`: the eval group without the rest of glasslm."""
    parser = argparse.ArgumentParser(prog="glasslm")
    register(parser.add_subparsers(dest="command", required=True))
    argv = sys.argv[1:] if argv is None else argv
    try:
        from engine import EngineError
        from engine.console import not_utf8, quiet_closed_stdout

        errors: tuple[type[BaseException], ...] = (*USER_ERRORS, EngineError)
        bad = not_utf8(argv)
        if bad is not None:
            print(f"glasslm: error: {bad}", file=sys.stderr)
            return 2
        args = parser.parse_args(["eval", *argv])
    except KeyboardInterrupt:  # Ctrl-C while starting up (imports): nothing to report
        return 130
    except SystemExit:  # argparse printed --help or a usage error; into a closed pipe, end quietly
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            return quiet_closed_stdout()
        raise
    except BrokenPipeError:
        return quiet_closed_stdout()
    try:
        status = int(args.handler(args) or 0)
        sys.stdout.flush()  # a closed pipe shows up here, not as a warning at exit
        return status
    except BrokenPipeError:
        return quiet_closed_stdout()
    except errors as exc:
        if os.environ.get("GLASSLM_DEBUG"):
            raise
        print(f"glasslm: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("glasslm: interrupted", file=sys.stderr)
        return 130
