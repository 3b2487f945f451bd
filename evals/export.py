"""Render runs for people and files: metric tables, and exports as JSONL, CSV, JSON or Markdown.

Pure formatting of dicts the history returns (runs, results) and the reports report.py
builds, plus `write_file`, which saves an export atomically and never over the history
database or any other SQLite file; no database access, no printing.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from .errors import EvalError

FORMATS = ("jsonl", "csv", "json", "md")
CSV_COLUMNS = ("run_id", "item_id", "variant", "kind", "part", "category", "correct", "score", "output",
               "expected", "prompt", "latency_s", "choice_logprobs", "scores", "created_at")


def fmt(value, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def estimate(e: dict) -> str:
    """'0.620 [0.520, 0.710]' for an Estimate dict."""
    if e.get("value") is None:
        return "-"
    if e.get("low") is None:
        return fmt(e["value"])
    return f"{fmt(e['value'])} [{fmt(e['low'])}, {fmt(e['high'])}]"


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)] if rows else [len(h) for h in header]
    lines = ["  ".join(str(h).ljust(w) for h, w in zip(header, widths)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip() for row in rows]
    return "\n".join(lines)


def metrics_table(metrics: dict) -> str:
    return table([[name, estimate(e), str(e.get("n", ""))] for name, e in metrics.items()],
                 ["metric", "value [95% CI]", "n"])


def model_name(path: str | None) -> str:
    """What to call a run's model: its folder's or file's name, or "model @ host:port" for one on a server."""
    text = path or "?"
    if text.startswith(("http://", "https://")):
        url, _, model = text.partition("#")
        return f"{model or 'served model'} @ {url.split('://', 1)[1].split('/', 1)[0]}"
    return Path(text).name


def run_title(run: dict) -> str:
    s = run.get("settings") or {}
    model = model_name(run.get("model_path"))
    return (f"run {run['id']}: {run['suite_id']} v{run['suite_version']} | {model} | {s.get('precision', '?')} | "
            f"T={s.get('temperature', '?')} | seed {run.get('seed')} | {run['status']}")


def run_header(run: dict) -> str:
    machine = run.get("machine") or {}
    lines = [run_title(run),
             f"  suite     {run.get('suite_title') or run['suite_id']} (sha256 {run['suite_hash'][:12]}, {run.get('suite_path')})",
             f"  model     {run.get('model_path')}",
             f"  settings  {json.dumps(run.get('settings') or {}, sort_keys=True)}",
             f"  items     {run.get('n_done', 0)}/{run.get('n_items', 0)} scored"
             + (f" (limit {run['item_limit']})" if run.get("item_limit") else "")
             + (f"; {truncation_note(run)}" if truncation_note(run) else ""),
             f"  time      {run['started_at']} -> {run.get('ended_at') or '...'}",
             f"  machine   {machine.get('host', '?')}, {machine.get('os', '?')}, torch {machine.get('torch', '?')}"]
    if run.get("error"):
        lines.append(f"  error     {run['error']}")
    return "\n".join(lines)


def truncation_note(run: dict) -> str:
    """'2 items were longer than the context window ...' ('' when none, or not counted)."""
    n = run.get("n_truncated")
    if not n:
        return ""
    return (f"{n} item{'s were' if n != 1 else ' was'} longer than the model's context window and scored "
            "with the first tokens dropped (left-truncated, as lm-eval does)")


def report_text(report: dict) -> str:
    out = ["overall", metrics_table(report["overall"])]
    if report.get("per_part_only"):  # they mean different things in different parts (evals/report.py)
        out.append(f"per part only: {', '.join(report['per_part_only'])} (scored differently in different parts)")
    for part, metrics in report.get("parts", {}).items():
        out += ["", f"part {part}", metrics_table(metrics)]
    b = report.get("bootstrap", {})
    out += ["", f"95% intervals: percentile bootstrap over items, {b.get('resamples')} resamples, seed {b.get('seed')}"]
    return "\n".join(out)


def compare_text(run_a: dict, run_b: dict, diff: dict, max_flips: int = 20) -> str:
    rows = []
    for name, d in diff["deltas"].items():
        ci = "-" if d["low"] is None else f"[{fmt(d['low'])}, {fmt(d['high'])}]"
        rows.append([name, fmt(d["a"]), fmt(d["b"]), fmt(d["delta"]), ci, str(d["n_common"])])
    out = [f"A = {run_title(run_a)}", f"B = {run_title(run_b)}", "",
           table(rows, ["metric", "A", "B", "B - A", "95% CI (paired)", "items"])]
    flips = diff["flipped"]
    out += ["", f"{len(flips)} item results flipped"]
    for f in flips[:max_flips]:
        name = f["item_id"] + (f" [{f['variant']}]" if f["variant"] else "")
        out.append(f"  {name}: {fmt(f['before'])} -> {fmt(f['after'])}  ({_short(f['output_a'])!r} -> {_short(f['output_b'])!r})")
    if len(flips) > max_flips:
        out.append(f"  ... and {len(flips) - max_flips} more (use --all)")
    return "\n".join(out)


def _short(text, n: int = 40) -> str:
    text = "" if text is None else str(text).replace("\n", " ")
    return text if len(text) <= n else text[: n - 1] + "…"


def export(run: dict, results: list[dict], report: dict | None, fmt_name: str) -> str:
    if fmt_name == "jsonl":
        return "".join(json.dumps({"run_id": run["id"], **r}, ensure_ascii=False) + "\n" for r in results)
    if fmt_name == "json":
        return json.dumps({"run": run, "report": report, "results": results}, ensure_ascii=False, indent=2) + "\n"
    if fmt_name == "csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for r in results:
            row = {**r, "run_id": run["id"], "scores": json.dumps(r.get("scores"), ensure_ascii=False),
                   "choice_logprobs": json.dumps(r.get("choice_logprobs"))}
            writer.writerow(row)
        return buf.getvalue()
    if fmt_name == "md":
        return markdown(run, results, report)
    raise ValueError(fmt_name)


def markdown(run: dict, results: list[dict], report: dict | None) -> str:
    out = [f"# {run_title(run)}", "", "```", run_header(run), "```", ""]
    if report:
        groups = [("Overall", report["overall"])] + [(f"Part `{p}`", m) for p, m in report.get("parts", {}).items()]
        for title, metrics in groups:
            out += [f"## {title}", "", "| metric | value | 95% CI | n |", "| --- | --- | --- | --- |"]
            for name, e in metrics.items():
                ci = "-" if e.get("low") is None else f"[{fmt(e['low'])}, {fmt(e['high'])}]"
                out.append(f"| {name} | {fmt(e.get('value'))} | {ci} | {e.get('n')} |")
            out.append("")
    out += ["## Items", "", "| item | variant | correct | score | output | expected |",
            "| --- | --- | --- | --- | --- | --- |"]
    for r in results:
        cells = [r["item_id"], r["variant"] or "", fmt(r["correct"]), fmt(r["score"]),
                 _short(r["output"], 60), _short(r["expected"], 60)]
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(out) + "\n"


def write_file(path: str | Path, text: str, history_path: str | Path | None = None) -> Path:
    """Write an export to `path` through a temporary file (a failed write leaves no half file).

    Refuses the history database, its -wal/-shm files and any other SQLite file (EvalError).
    """
    from engine.safe_write import FileWriteError, write_text

    try:
        return write_text(path, text, protect=[history_path] if history_path is not None else [])
    except FileWriteError as exc:
        raise EvalError(str(exc)) from exc
