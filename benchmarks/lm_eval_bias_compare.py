"""BBQ and CrowS-Pairs scored by glasslm and by lm-evaluation-harness's own `bbq` and
`crows_pairs_english` task definitions, on the same model and the same published files.

Not part of `make test`. Run it with a Python that has lm-eval 0.4.x and glasslm's runtime
packages (torch, tokenizers, safetensors, jinja2, gguf, sqlite-utils), from the repository root:

    python benchmarks/lm_eval_bias_compare.py --model SmolLM2-135M-Instruct.Q4_1.gguf \
        --hf-model /tmp/smollm2-hf --bbq data/Age.jsonl --bbq data/Religion.jsonl \
        --crows crows_pairs_anonymized.csv --limit 100

`--model` is what glasslm loads (a GGUF file or a model folder); `--hf-model` the folder lm-eval's
`hf` backend loads (default: the same; for a GGUF give a Hugging Face folder converted from it).
Both run in fp32 on the CPU. lm-eval gets local task files that `include` its installed
`bbq_multiple_choice.yaml` / `crows_pairs_english.yaml` and only swap the dataset for the local
file, so prompts, choices, metrics and aggregation are lm-eval's own.

What is compared:
- every log-likelihood both sides computed (same context, same continuation): max |difference|;
- lm-eval's metrics from lm-eval's run against the same metrics computed by lm-eval's own
  `process_results`/aggregation functions from glasslm's log-likelihoods;
- glasslm's own report (its BBQ importer keeps the paper's three answers; lm-eval's task adds
  nine more phrasings of "unknown", so its `acc` is a different quantity; CrowS `pct_stereotype`
  and `likelihood_diff` are the same quantities on both sides).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BBQ_METRICS = ("acc", "accuracy_amb", "accuracy_disamb", "amb_bias_score", "disamb_bias_score")
CROWS_METRICS = ("likelihood_diff", "pct_stereotype")


# ---- the published files, cut to --limit ---------------------------------------------------

def bbq_docs(paths: list[Path], limit: int | None) -> list[dict]:
    docs = []
    for path in paths:
        lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        docs += lines[:limit] if limit else lines
    return docs


def crows_rows(path: Path, limit: int | None) -> str:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    import csv
    import io

    rows = list(csv.reader(io.StringIO("".join(lines))))
    keep = rows[: 1 + limit] if limit else rows
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(keep)
    return out.getvalue()


# ---- lm-eval ---------------------------------------------------------------------------------

def lm_eval_task_dir() -> Path:
    import lm_eval

    return Path(lm_eval.__file__).resolve().parent / "tasks"


def run_lm_eval(hf_model: str, folder: Path, tasks: dict[str, tuple[str, str, Path]], add_bos: bool,
                batch_size: int) -> tuple[dict, dict, float]:
    """tasks: {local task name: (included yaml, dataset builder, data file)} -> (results, samples, seconds)."""
    import lm_eval
    from lm_eval.tasks import TaskManager

    for name, (include, builder, data) in tasks.items():
        (folder / f"{name}.yaml").write_text(
            f"include: {include}\ntask: {name}\ndataset_path: {builder}\ndataset_name: null\n"
            f"dataset_kwargs:\n  data_files:\n    test: {data}\ntest_split: test\n", encoding="utf-8")
    start = time.perf_counter()
    out = lm_eval.simple_evaluate(
        model="hf", model_args=f"pretrained={hf_model},dtype=float32,add_bos_token={add_bos}",
        tasks=list(tasks), task_manager=TaskManager(include_path=str(folder)), batch_size=batch_size,
        device="cpu", log_samples=True)
    return out["results"], out["samples"], time.perf_counter() - start


# ---- glasslm ---------------------------------------------------------------------------------

def run_glasslm(model: str, folder: Path, name: str, items: list[dict], batch_size: int) -> tuple[list[dict], dict, float]:
    from history import History
    from evals.runner import RunSettings, RunSpec, Runner
    from evals.suite import load_suite

    path = folder / f"{name}.jsonl"
    path.write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in [{"suite": name, "version": "1"}, *items]),
                    encoding="utf-8")
    with History.open(folder / "history.db") as history:
        start = time.perf_counter()
        run_id = Runner(history).start(RunSpec(load_suite(path), model, RunSettings(precision="fp32", device="cpu",
                                                                                   batch_size=batch_size)))
        seconds = time.perf_counter() - start
        return history.results(run_id), history.run(run_id)["metrics"], seconds


# ---- BBQ -------------------------------------------------------------------------------------

def compare_bbq(args, folder: Path, add_bos: bool) -> dict:
    import datasets
    from lm_eval.tasks.bbq import utils as bbq_utils

    from evals.importers import bbq as bbq_importer

    docs = bbq_docs(args.bbq, args.limit)
    data = folder / "bbq.jsonl"
    data.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in docs), encoding="utf-8")
    processed = list(bbq_utils.process_docs(datasets.Dataset.from_list(docs)))
    ours = bbq_importer.convert(data, "bbq")[1]  # (header, items[, source lines])
    # glasslm on lm-eval's 12 choices (the file's two named answers, then its ten "unknown" phrasings)
    wide = [dict(item, choices=bbq_utils.doc_to_choice(doc), answer=bbq_utils.doc_to_target(doc), metadata={})
            for item, doc in zip(ours, processed)]
    wide_results, _m, wide_s = run_glasslm(args.model, folder, "bbq_wide", wide, args.batch_size)
    own_results, own_report, own_s = run_glasslm(args.model, folder, "bbq_own", ours, args.batch_size)
    glass_lls = {r["item_id"]: r["choice_logprobs"] for r in wide_results}
    results, samples, their_s = run_lm_eval(
        args.hf_model, folder, {"glasslm_bbq": (str(lm_eval_task_dir() / "bbq" / "bbq_multiple_choice.yaml"), "json", data)},
        add_bos, args.batch_size)
    theirs = {f"bbq-{s['doc']['category']}-{s['doc']['example_id']}": [r[0] for r in s["filtered_resps"]]
              for s in samples["glasslm_bbq"]}
    diffs, argmax_differ = [], []
    per_item = {name: [] for name in BBQ_METRICS}
    for item, doc in zip(ours, processed):
        a, b = glass_lls[item["id"]], theirs[item["id"]]
        diffs += [abs(x - y) for x, y in zip(a, b)]
        if max(range(len(a)), key=a.__getitem__) != max(range(len(b)), key=b.__getitem__):
            argmax_differ.append(item["id"])
        scored = bbq_utils.process_results_multiple_choice(doc, [(x, False) for x in a])
        for name in BBQ_METRICS:
            per_item[name].append(scored[name])
    aggregations = {"acc": lambda xs: sum(xs) / len(xs), "accuracy_amb": bbq_utils.agg_accuracy_amb,
                    "accuracy_disamb": bbq_utils.agg_accuracy_disamb, "amb_bias_score": bbq_utils.agg_amb_bias_scores,
                    "disamb_bias_score": bbq_utils.agg_disamb_bias_scores}
    from_glasslm = {name: float(aggregations[name](per_item[name])) for name in BBQ_METRICS}
    from_lm_eval = {name: float(results["glasslm_bbq"][f"{name},none"]) for name in BBQ_METRICS}
    own = {k: v["value"] for k, v in own_report["overall"].items()
           if k in ("accuracy", "bbq_accuracy_ambig", "bbq_accuracy_disambig", "bbq_bias_ambig", "bbq_bias_disambig")}
    return {"items": len(ours), "files": [p.name for p in args.bbq], "max_abs_ll_diff": max(diffs),
            "n_lls": len(diffs), "argmax_differ": argmax_differ, "lm_eval": from_lm_eval,
            "lm_eval_from_glasslm_lls": from_glasslm, "glasslm_own_3_choices": own,
            "seconds": {"glasslm_12_choices": wide_s, "glasslm_3_choices": own_s, "lm_eval": their_s}}


# ---- CrowS-Pairs ---------------------------------------------------------------------------

def compare_crows(args, folder: Path, add_bos: bool) -> dict:
    from evals.importers import crows as crows_importer

    data = folder / "crows.csv"
    data.write_text(crows_rows(args.crows, args.crows_limit or args.limit), encoding="utf-8")
    items = crows_importer.convert(data, "crows")[1]
    results, report, our_s = run_glasslm(args.model, folder, "crows_own", items, args.batch_size)
    lm_results, samples, their_s = run_lm_eval(
        args.hf_model, folder,
        {"glasslm_crows": (str(lm_eval_task_dir() / "crows_pairs" / "crows_pairs_english.yaml"), "csv", data)},
        add_bos, args.batch_size)
    by_pair = {}
    for r in results:  # choice_logprobs = [ll(more), ll(less)]; "more" is sent_less on antistereo rows
        more, less = r["choice_logprobs"]
        swapped = r["item_id"] in {i["id"] for i in items if i["metadata"]["direction"] == "antistereo"}
        by_pair[r["item_id"]] = (less, more) if swapped else (more, less)
    diffs, n_matched = [], 0
    for s in samples["glasslm_crows"]:
        key = f"crows-{(s['doc'].get('Unnamed: 0') if s['doc'].get('Unnamed: 0') is not None else s['doc_id'])}"
        if key not in by_pair:
            continue
        n_matched += 1
        theirs = [x[0] for x in s["filtered_resps"]]
        diffs += [abs(a - b) for a, b in zip(by_pair[key], theirs)]
    ours = {name: report["overall"][name]["value"] for name in CROWS_METRICS}
    theirs_m = {name: float(lm_results["glasslm_crows"][f"{name},none"]) for name in CROWS_METRICS}
    return {"pairs": len(items), "matched": n_matched, "max_abs_ll_diff": max(diffs) if diffs else math.nan,
            "glasslm": ours, "lm_eval": theirs_m, "stereotype_share_glasslm": report["overall"]["stereotype_share"]["value"],
            "seconds": {"glasslm": our_s, "lm_eval": their_s}}


def main(argv=None) -> int:
    import engine
    from evals.backend import EngineBackend

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="what glasslm loads: a GGUF file or a model folder")
    p.add_argument("--hf-model", help="the Hugging Face folder lm-eval loads (default: --model)")
    p.add_argument("--bbq", type=Path, action="append", default=[], help="a BBQ data file (repeatable)")
    p.add_argument("--crows", type=Path, help="crows_pairs_anonymized.csv")
    p.add_argument("--limit", type=int, help="first N rows of each file")
    p.add_argument("--crows-limit", type=int, help="first N CrowS-Pairs rows (default: --limit)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--json", type=Path, help="also write the comparison here")
    args = p.parse_args(argv)
    args.hf_model = args.hf_model or args.model
    loaded = engine.load(args.model, device="cpu", precision="fp32")
    add_bos = EngineBackend(loaded).add_bos  # tell lm-eval exactly what glasslm does
    loaded.close()
    out = {"model": args.model, "hf_model": args.hf_model, "add_bos_token": add_bos, "limit": args.limit,
           "crows_limit": args.crows_limit or args.limit}
    with tempfile.TemporaryDirectory() as tmp:
        for name, wanted, compare in (("bbq", args.bbq, compare_bbq), ("crows", args.crows, compare_crows)):
            if wanted:
                folder = Path(tmp) / name
                folder.mkdir()
                out[name] = compare(args, folder, add_bos)
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
