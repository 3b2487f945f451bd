"""An outside client against `glasslm serve`: lm-evaluation-harness's `local-completions` model scores
a suite's multiple-choice items through the server, and glasslm scores the same items in process.

Not part of `make test`; needs lm-eval 0.4.x in the Python that runs it (e.g. a separate virtualenv:
`pip install "lm-eval>=0.4,<0.5"`) and a running server:

    glasslm serve --model assets/models/bard-mini --port 8000 &
    python benchmarks/lm_eval_serve_check.py --url http://127.0.0.1:8000/v1 --model assets/models/bard-mini

lm-eval tokenizes with the model folder's tokenizer (transformers) and sends token ids with
`echo`, `logprobs: 1`, `max_tokens: 1`, reading the prompt tokens' log-probabilities back; the
script prints both accuracies and the largest difference between lm-eval's and glasslm's
log-likelihood of a choice. The items go to lm-eval as a local task (no dataset download).
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.lm_eval_compare import TASK, TASK_YAML, mc_items  # noqa: E402


def lm_eval_through_server(url: str, model_name: str, tokenizer: Path, folder: Path, items: list[dict],
                           add_bos: bool) -> tuple[float, dict]:
    import lm_eval
    from lm_eval.tasks import TaskManager

    data = folder / "data.jsonl"
    data.write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    (folder / f"{TASK}.yaml").write_text(TASK_YAML.format(task=TASK, data=data), encoding="utf-8")
    args = (f"model={model_name},base_url={url.rstrip('/')}/completions,tokenizer={tokenizer},"
            f"tokenizer_backend=huggingface,tokenized_requests=True,num_concurrent=1,max_retries=1,"
            f"add_bos_token={add_bos}")
    out = lm_eval.simple_evaluate(model="local-completions", model_args=args, tasks=[TASK],
                                  task_manager=TaskManager(include_path=str(folder)), log_samples=True)
    lls = {s["doc"]["id"]: [r[0] for r in s["filtered_resps"]] for s in out["samples"][TASK]}
    return out["results"][TASK]["acc,none"], lls


def glasslm_in_process(model: Path, items: list[dict]) -> dict:
    import engine
    from evals.backend import EngineBackend
    from evals.scoring import TARGET_DELIMITER

    backend = EngineBackend(engine.load(model, device="cpu", precision="fp32"))
    out = {}
    for item in items:
        answers = backend.loglikelihood([(item["prompt"], TARGET_DELIMITER + c) for c in item["choices"]])
        out[item["id"]] = [ll for ll, _ in answers]
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--url", required=True, help="the server's base URL, e.g. http://127.0.0.1:8000/v1")
    p.add_argument("--model", required=True, help="the served model's folder (lm-eval reads its tokenizer)")
    p.add_argument("--served-name", help="the served model id (default: the folder's name)")
    p.add_argument("--suite", default="calibration")
    p.add_argument("--limit", type=int, default=40)
    args = p.parse_args(argv)
    import engine
    from evals.backend import EngineBackend
    from evals.suite import find_suite

    folder = Path(args.model).expanduser().resolve()
    items = mc_items(find_suite(args.suite), args.limit)
    loaded = engine.load(folder, device="cpu", precision="fp32")
    add_bos = EngineBackend(loaded).add_bos
    loaded.close()
    ours = glasslm_in_process(folder, items)
    with tempfile.TemporaryDirectory() as tmp:
        acc, theirs = lm_eval_through_server(args.url, args.served_name or folder.name, folder, Path(tmp), items,
                                             add_bos)
    ours_acc = sum(max(range(len(v)), key=lambda i: (v[i], -i)) == item["answer"]
                   for item, v in ((i, ours[i["id"]]) for i in items)) / len(items)
    worst = max(abs(a - b) for key in ours for a, b in zip(ours[key], theirs[key]))
    print(f"{len(items)} items of {args.suite}: lm-eval local-completions through {args.url}: acc {acc:.4f}; "
          f"glasslm in process: acc {ours_acc:.4f}; largest |log-likelihood difference| {worst:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
