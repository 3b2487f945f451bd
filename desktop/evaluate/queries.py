"""What the Evaluate and History pages read from the history database, computed exactly as
`glasslm eval show / compare / export` compute it (same report, compare and export code).

No Qt here: plain functions over an open `History`, safe to call on a worker thread (the
History object serializes access to its connection). Nothing here writes to the database.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from evals import export as fmt
from evals.errors import SuiteError
from history import History
from evals.metrics import softmax
from evals.report import build_report, compare
from evals.suite import Suite, load_suite

RESUMABLE = ("interrupted", "failed", "running")
EXPORT_FORMATS = {"csv": "CSV", "json": "JSON", "md": "Markdown", "jsonl": "JSON lines"}


@dataclass(frozen=True)
class RunReport:
    run: dict  # history.run(): settings, status, n_done, n_items, ...
    report: dict | None  # the stored report, or one built from the results so far (None: no results)
    partial: bool  # True when the report is not the stored final one


@dataclass(frozen=True)
class Comparison:
    a: dict  # the base run
    b: dict  # the run compared with it
    diff: dict  # evals.report.compare(): {"deltas": {...}, "flipped": [...]}


def run_report(history: History, run_id: int) -> RunReport:
    """A run and its metrics, as `glasslm eval show` prints them."""
    run = history.run(run_id)
    report = run.get("metrics")
    if report is not None:
        return RunReport(run, report, False)
    results = history.results(run_id)
    return RunReport(run, build_report(results, seed=run["seed"]) if results else None, True)


def run_reports(history: History, run_ids: list[int]) -> list[RunReport]:
    return [run_report(history, run_id) for run_id in run_ids]


def compare_runs(history: History, run_ids: list[int]) -> list[Comparison]:
    """Each run after the first compared with the first, as `glasslm eval compare` does."""
    base = history.run(run_ids[0])
    base_results = history.results(run_ids[0])
    out = []
    for other_id in run_ids[1:]:
        other = history.run(other_id)
        out.append(Comparison(base, other, compare(base_results, history.results(other_id), seed=base["seed"])))
    return out


def export_runs(history: History, run_ids: list[int], fmt_name: str) -> str:
    """The text `glasslm eval export RUN --format F` writes; several runs are concatenated
    (CSV keeps one header, JSON becomes a list)."""
    texts = []
    for run_id in run_ids:
        rr = run_report(history, run_id)
        texts.append(fmt.export(rr.run, history.results(run_id), rr.report, fmt_name))
    if len(texts) == 1:
        return texts[0]
    if fmt_name == "csv":
        return texts[0] + "".join(t.split("\n", 1)[1] for t in texts[1:])
    if fmt_name == "json":
        return "[\n" + ",\n".join(t.rstrip("\n") for t in texts) + "\n]\n"
    if fmt_name == "md":
        return "\n".join(texts)
    return "".join(texts)


def resumable_runs(history: History, limit: int = 50) -> list[dict]:
    """Runs that `Runner.resume` may finish: interrupted, failed, or left running by a dead process."""
    return [r for r in history.runs(limit=limit) if r["status"] in RESUMABLE]


def run_label(run: dict) -> str:
    """Short name of a run for legends and column headers: '#3 calibration · bard-mini · nf4 · T=0'."""
    s = run.get("settings") or {}
    model = Path(run.get("model_path") or "?").name
    label = f"#{run['id']} {run['suite_id']} · {model} · {s.get('precision', '?')} · T={s.get('temperature', '?')}"
    return label + (f" · seed {run['seed']}" if run.get("seed") else "")


def run_title(run: dict) -> str:
    return fmt.run_title(run)


def estimate_text(estimate: dict | None) -> str:
    return "-" if not estimate else fmt.estimate(estimate)


def choice_rows(run: dict, result: dict) -> list[tuple[str, float, float | None]]:
    """(label, log-probability, probability) per choice of an item's result.

    Labels come from the suite file when it is still the one the run used (same hash);
    otherwise the choices are numbered. Probabilities are the softmax over the choices, as
    the calibration metrics use; minimal pairs show log-likelihoods only.
    """
    lps = result.get("choice_logprobs") or []
    if not lps:
        return []
    labels = _choice_labels(run, result) or [f"choice {i}" for i in range(len(lps))]
    if result["kind"] == "minimal_pair":
        return [(label, lp, None) for label, lp in zip(labels, lps)]
    return list(zip(labels, lps, softmax(lps)))


def _choice_labels(run: dict, result: dict) -> list[str] | None:
    suite = _suite(run.get("suite_path") or "", run.get("suite_hash") or "")
    if suite is None:
        return None
    item = next((i for i in suite.items if i.id == result["item_id"]), None)
    if item is None:
        return None
    if item.kind == "minimal_pair":
        return [f"more: {item.more}", f"less: {item.less}"]
    for variant in item.scored_variants():
        if variant.name == result["variant"] or (not result["variant"] and not variant.name):
            return list(variant.choices)
    return None


@functools.lru_cache(maxsize=8)
def _suite(path: str, digest: str) -> Suite | None:
    if not path or not Path(path).is_file():
        return None
    try:
        suite = load_suite(Path(path))
    except SuiteError:
        return None
    return suite if suite.hash == digest else None
