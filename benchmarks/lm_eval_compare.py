"""Compare glasslm's multiple-choice accuracy with lm-evaluation-harness on the same model and items.

Not part of `make test`. Needs lm-eval 0.4.x (`pip install "lm-eval>=0.4,<0.5"`, the `bench`
extra), which loads the model with transformers through its `hf` backend. The script:

1. takes the multiple-choice items of a glasslm suite (the reference wording; only items with
   a single true choice, where MC1 and lm-eval's `acc` are the same quantity),
2. writes them to a local JSONL file plus a local lm-eval YAML task over it
   (output_type multiple_choice, target_delimiter " ", metric acc),
3. runs lm-eval's `hf` backend and glasslm's runner on the same model folder, in fp32 on CPU,
4. prints both accuracies, wall times, and the items where the two predictions differ.

    python benchmarks/lm_eval_compare.py --model PATH [--suite calibration] [--limit 100]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TASK = "glasslm_compare"
TASK_YAML = """task: {task}
dataset_path: json
dataset_kwargs:
  data_files:
    test: {data}
test_split: test
output_type: multiple_choice
doc_to_text: prompt
doc_to_choice: choices
doc_to_target: answer
target_delimiter: " "
metric_list:
  - metric: acc
    aggregation: mean
    higher_is_better: true
metadata:
  version: 1.0
"""


def mc_items(suite, limit: int | None):
    out = []
    for item in suite.items:
        if item.kind != "multiple_choice":
            continue
        v = next(x for x in item.scored_variants() if x.name in ("", "plain"))
        if len(v.correct) != 1:
            continue
        out.append({"id": item.id, "prompt": v.prompt, "choices": list(v.choices), "answer": v.answer})
        if limit and len(out) == limit:
            break
    return out


def run_lm_eval(model: Path, folder: Path, items: list[dict], batch_size: int, add_bos: bool):
    import lm_eval
    from lm_eval.tasks import TaskManager

    data = folder / "data.jsonl"
    data.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    (folder / f"{TASK}.yaml").write_text(TASK_YAML.format(task=TASK, data=data), encoding="utf-8")
    start = time.perf_counter()
    out = lm_eval.simple_evaluate(
        model="hf", model_args=f"pretrained={model},dtype=float32,add_bos_token={add_bos}",
        tasks=[TASK], task_manager=TaskManager(include_path=str(folder)), batch_size=batch_size,
        device="cpu", log_samples=True)
    seconds = time.perf_counter() - start
    acc = out["results"][TASK]["acc,none"]
    preds = {}
    for sample in out["samples"][TASK]:
        lls = [r[0] for r in sample["filtered_resps"]]
        preds[sample["doc"]["id"]] = max(range(len(lls)), key=lambda i: (lls[i], -i))
    return acc, seconds, preds


def run_glasslm(model: Path, folder: Path, items: list[dict], batch_size: int):
    from history import History
    from evals.runner import RunSettings, RunSpec, Runner
    from evals.suite import load_suite

    path = folder / "compare.jsonl"
    lines = [{"suite": "compare", "version": "1"}]
    lines += [{"id": i["id"], "kind": "multiple_choice", "part": "all", "prompt": i["prompt"],
               "choices": i["choices"], "answer": i["answer"]} for i in items]
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    suite = load_suite(path)
    with History.open(folder / "history.db") as history:
        start = time.perf_counter()
        run_id = Runner(history).start(RunSpec(suite, str(model), RunSettings(precision="fp32", device="cpu",
                                                                            batch_size=batch_size)))
        seconds = time.perf_counter() - start
        results = history.results(run_id)
        acc = history.run(run_id)["metrics"]["overall"]["accuracy"]["value"]
    return acc, seconds, {r["item_id"]: r["scores"]["pred"] for r in results}


def main(argv=None) -> int:
    import engine
    from evals.backend import EngineBackend
    from evals.suite import find_suite

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", help="model folder (default: the bundled model)")
    p.add_argument("--suite", default="calibration", help="glasslm suite id or .jsonl path")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=16)
    args = p.parse_args(argv)
    model = Path(args.model).expanduser() if args.model else engine.default_model_path()
    items = mc_items(find_suite(args.suite), args.limit)
    if not items:
        print(f"suite {args.suite} has no single-answer multiple-choice items", file=sys.stderr)
        return 2
    loaded = engine.load(model, device="cpu", precision="fp32")
    add_bos = EngineBackend(loaded).add_bos  # tell lm-eval exactly what glasslm does
    loaded.close()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        ours, our_s, our_preds = run_glasslm(model, folder, items, args.batch_size)
        theirs, their_s, their_preds = run_lm_eval(model, folder, items, args.batch_size, add_bos)
    differ = sorted(k for k in our_preds if their_preds.get(k) != our_preds[k])
    print(f"model {model}, suite {args.suite}, {len(items)} items, fp32 on CPU, add_bos_token={add_bos}")
    n = len(items)
    print(f"glasslm  accuracy {ours:.4f}  wall {our_s:.1f} s  {n / our_s:.1f} items/s (model load included)")
    print(f"lm-eval  accuracy {theirs:.4f}  wall {their_s:.1f} s  {n / their_s:.1f} items/s (model load included)")
    print(f"speed ratio: {their_s / our_s:.2f}x")
    print(f"items with different predictions: {len(differ)}" + (f" ({', '.join(differ[:10])})" if differ else ""))
    return 0 if abs(ours - theirs) < 1e-9 else 1


if __name__ == "__main__":
    sys.exit(main())
