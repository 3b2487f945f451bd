"""The real-numbers table: one model on the published benchmarks and the built-in suites, at
several precisions, each metric with its 95% interval (the table in docs/evals-results.md).

Not part of `make test`; long on a CPU. It imports the published files with glasslm's own
importers (`glasslm eval import`), optionally keeps an evenly spaced subset of each suite
(`--max-items`: every k-th item; TruthfulQA questions keep their mc1 and mc2 items together,
HaluEval rows their right and hallucinated answers), runs every suite at every precision with
glasslm's runner into one history database, and writes a JSON file after each run (so a run cut
short still leaves what it finished) and a Markdown table at the end.

    python benchmarks/real_model_table.py --model SmolLM2-135M-Instruct.Q4_1.gguf \
        --truthfulqa mc_task.json --bbq data/Age.jsonl --bbq data/Religion.jsonl \
        --crows crows_pairs_anonymized.csv --halueval qa_data.json --builtin \
        --precision fp32,nf4 --db /tmp/table/history.db --out /tmp/table/table.json

`--markdown-only` rewrites the table from an existing JSON file.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BUILTIN = ("hallucination", "bias", "prompt-sensitivity", "calibration")
# The metrics the table shows per suite (others stay in the JSON file and the history).
SHOWN = ("accuracy", "mc2", "ece", "brier", "bbq_accuracy_ambig", "bbq_accuracy_disambig", "bbq_bias_ambig",
         "bbq_bias_disambig", "stereotype_share", "pct_stereotype", "likelihood_diff", "precision[Yes]",
         "recall[Yes]", "precision[No]", "recall[No]", "hallucination_rate", "agreement",
         "self_consistency_accuracy", "sample_accuracy", "variant_spread", "consistency", "drop_rate_mean")
PAIRED = ("-mc1", "-mc2", "-right", "-hallucinated")  # id endings of items that belong together


def group_key(item_id: str) -> str:
    for end in PAIRED:
        if item_id.endswith(end):
            return item_id[: -len(end)]
    return item_id


def subset(suite, max_items: int | None, folder: Path):
    """An evenly spaced subset of `suite` as its own suite file (the suite itself when small enough)."""
    from evals.suite import load_suite

    if not max_items or len(suite.items) <= max_items:
        return suite
    groups: dict[str, list] = {}
    for item in suite.items:
        groups.setdefault(group_key(item.id), []).append(item)
    keys = list(groups)
    per_group = max(len(g) for g in groups.values())
    step = max(1, math.ceil(len(keys) * per_group / max_items))
    if suite.id == "bbq":  # an odd step, so the four conditions BBQ's files cycle through are all kept
        step += step % 2 == 0 and step > 1
    chosen = {k for k in keys[::step]}
    lines = suite.path.read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    sub_id = f"{suite.id}-every{step}"
    header.update(suite=sub_id, description=f"{header.get('description', '')} Every {step}th of {len(keys)}.")
    kept = [line for line in lines[1:] if line.strip() and group_key(json.loads(line)["id"]) in chosen]
    path = folder / f"{sub_id}.jsonl"
    path.write_text("\n".join([json.dumps(header, ensure_ascii=False), *kept]) + "\n", encoding="utf-8")
    return load_suite(path, source="file")


def imported_suites(args, suites_dir: Path) -> list[tuple[str, object]]:
    from evals.importers import import_suite

    wanted = []
    if args.truthfulqa:
        wanted.append(("TruthfulQA", "truthfulqa", args.truthfulqa, "truthfulqa"))
    if args.bbq:  # the category files as one suite (parts = categories), as lm-eval's `bbq` task
        combined = suites_dir.parent / "bbq-categories.jsonl"
        combined.parent.mkdir(parents=True, exist_ok=True)
        combined.write_text("".join(path.read_text(encoding="utf-8").rstrip("\n") + "\n" for path in args.bbq),
                            encoding="utf-8")
        wanted.append((f"BBQ ({len(args.bbq)} categories)", "bbq", combined, "bbq"))
    if args.crows:
        wanted.append(("CrowS-Pairs", "crows", args.crows, "crows"))
    if args.halueval:
        wanted.append(("HaluEval QA", "halueval", args.halueval, "halueval-qa"))
    out = []
    for label, kind, path, suite_id in wanted:
        out.append((label, import_suite(kind, path, suites_dir, suite_id=suite_id, replace=True)))
    return out


def run_all(args) -> dict:
    from history import History
    from evals.runner import RunSettings, RunSpec, Runner
    from evals.suite import find_suite, user_suites_dir

    db = Path(args.db).expanduser()
    db.parent.mkdir(parents=True, exist_ok=True)
    subsets = db.parent / "subsets"
    subsets.mkdir(exist_ok=True)
    def limit(suite_id: str, default: int | None) -> int | None:
        if suite_id in args.max:
            return args.max[suite_id]
        return default * len(args.bbq) if default and suite_id == "bbq" else default

    suites = [(label, subset(s, limit(s.id, args.max_items), subsets))
              for label, s in imported_suites(args, user_suites_dir(db))]
    if args.builtin:  # the hallucination suite first (its generation rules are what a table is most read for)
        builtin = [(f"built-in {s}", subset(find_suite(s), limit(s, args.max_items_builtin), subsets)) for s in BUILTIN]
        suites = builtin[:1] + suites + builtin[1:]
    out = {"model": str(args.model), "precisions": args.precision, "max_items": args.max_items,
           "max_items_builtin": args.max_items_builtin, "runs": []}
    if args.out.exists():
        out["runs"] = [r for r in json.loads(args.out.read_text(encoding="utf-8")).get("runs", [])]
    done = {(r["label"], r["precision"]) for r in out["runs"]}
    with History.open(db) as history:
        for label, suite in suites:
            for precision in args.precision:
                if (label, precision) in done:
                    continue
                settings = RunSettings(precision=precision, device="cpu", batch_size=args.batch_size)
                start = time.perf_counter()
                print(f"[{time.strftime('%H:%M:%S')}] {label}: {len(suite.items)} items, {precision}", flush=True)
                run_id = Runner(history).start(RunSpec(suite, str(args.model), settings))
                seconds = time.perf_counter() - start
                run = history.run(run_id)
                out["runs"].append({"label": label, "suite": suite.id, "n_items": len(suite.items),
                                    "precision": precision, "run_id": run_id, "seconds": round(seconds, 1),
                                    "report": run["metrics"]})
                print(f"    done in {seconds:.0f} s (run {run_id})", flush=True)
                args.out.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    return out


def fmt(est: dict | None) -> str:
    if not est:
        return ""
    if est.get("value") is None:  # e.g. precision of a class the model never chose
        return "undefined"
    if est.get("low") is None:
        return f"{est['value']:.3f}"
    return f"{est['value']:.3f} [{est['low']:.3f}, {est['high']:.3f}]"


def paired_deltas(table: dict, db: Path) -> dict[str, dict]:
    """{suite label: `report.compare` deltas of the second precision against the first} (same items)."""
    from history import History
    from evals.report import compare

    first, second = table["precisions"][:2]
    runs = {(r["label"], r["precision"]): r["run_id"] for r in table["runs"]}
    out = {}
    with History.open(db) as history:
        for (label, precision), run_id in runs.items():
            if precision == first and (label, second) in runs:
                out[label] = compare(history.results(run_id), history.results(runs[(label, second)]))["deltas"]
    return out


def fmt_delta(d: dict | None) -> str:
    if not d or d.get("delta") is None:
        return ""
    if d.get("low") is None:
        return f"{d['delta']:+.3f}"
    return f"{d['delta']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]"


def markdown(table: dict, deltas: dict[str, dict] | None = None) -> str:
    """One row per (suite, metric, part) with a column per precision (and the paired difference)."""
    precisions = table["precisions"]
    deltas = deltas or {}
    rows: dict[tuple[str, str], dict[str, str]] = {}
    order: list[tuple[str, str]] = []
    meta: dict[str, str] = {}
    for run in table["runs"]:
        report = run["report"] or {}
        meta[run["label"]] = f"{run['n_items']} items"
        groups = [("", report.get("overall", {}))] + [(p, m) for p, m in report.get("parts", {}).items()
                                                       if set(report.get("per_part_only", [])) & set(m)]
        for part, metrics in groups:
            for name in SHOWN:
                if name not in metrics or (part and name not in report.get("per_part_only", [])):
                    continue
                key = (run["label"], f"{part}/{name}" if part else name)
                if key not in rows:
                    rows[key] = {}
                    order.append(key)
                rows[key][run["precision"]] = fmt(metrics[name])
    paired = bool(deltas) and len(precisions) > 1
    head = "| suite | metric | " + " | ".join(precisions) + (f" | {precisions[1]} - {precisions[0]} (paired) |" if paired else " |")
    lines = [head, "|---|---|" + "---|" * (len(precisions) + paired)]
    last = None
    for label, metric in order:
        shown = f"{label} ({meta[label]})" if label != last else ""
        last = label
        cells = [rows[(label, metric)].get(p, "") for p in precisions]
        if paired:
            cells.append(fmt_delta(deltas.get(label, {}).get(metric)))
        lines.append(f"| {shown} | {metric} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", type=Path, help="a GGUF file or a model folder")
    p.add_argument("--truthfulqa", type=Path, help="mc_task.json or TruthfulQA.csv")
    p.add_argument("--bbq", type=Path, action="append", default=[], help="a BBQ category file (repeatable)")
    p.add_argument("--crows", type=Path, help="crows_pairs_anonymized.csv")
    p.add_argument("--halueval", type=Path, help="HaluEval qa_data.json")
    p.add_argument("--builtin", action="store_true", help="also the four built-in suites")
    p.add_argument("--precision", default="fp32,nf4", type=lambda s: [x.strip() for x in s.split(",") if x.strip()])
    p.add_argument("--max-items", type=int, help="at most about this many items per imported suite (evenly spaced)")
    p.add_argument("--max-items-builtin", type=int, help="the same for the built-in suites")
    p.add_argument("--max", action="append", default=[], metavar="SUITE=N",
                   help="a limit for one suite (ids: truthfulqa, bbq, crows, halueval-qa, hallucination, ...)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--db", default="/tmp/glasslm-table/history.db")
    p.add_argument("--out", type=Path, default=Path("/tmp/glasslm-table/table.json"))
    p.add_argument("--markdown-only", action="store_true", help="only write the table from --out")
    args = p.parse_args(argv)
    args.max = {k: int(v) for k, v in (x.split("=", 1) for x in args.max)}
    if args.markdown_only:
        table = json.loads(args.out.read_text(encoding="utf-8"))
    else:
        if args.model is None:
            p.error("--model is required")
        table = run_all(args)
    text = markdown(table, paired_deltas(table, Path(args.db).expanduser()) if len(table["precisions"]) > 1 else None)
    args.out.with_suffix(".md").write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
