"""One training run end to end: corpus -> split -> tokenizer -> token streams -> training -> export.

The work folder keeps what a resumed run needs (tokenizer.json, checkpoints, split.json) and
the run's summary (summary.json: parameters, tokens, time, validation loss of the exported
bfloat16 weights). Rerunning with the same work folder continues where it stopped. It does not
parse command lines (cli.py) or sample text (sample.py).
"""
from __future__ import annotations

import json
import math
import platform
import time
from dataclasses import asdict
from pathlib import Path
from typing import Callable

import torch
from tokenizers import Tokenizer

from ..safe_write import make_folder, write_text, write_with
from . import data
from .export import export_model, hf_config
from .recipe import Recipe
from .tokenizer_trainer import train_tokenizer
from .trainer import (BEST, CHECKPOINT, CheckpointError, Trainer, add_residual_dropout, build_model, evaluate,
                      load_checkpoint)


def run_recipe(
    recipe: Recipe,
    corpus: list[Path],
    work_dir: Path,
    out_dir: Path,
    log: Callable[[str], None] = lambda line: None,
    fresh: bool = False,
) -> dict:
    """Train (or continue training) `recipe` on the .txt files in `corpus`; write the model to out_dir."""
    work_dir = make_folder(work_dir, "--work folder")
    out_dir = make_folder(out_dir, "--out folder")  # now, not after an hour of training
    if fresh:
        for name in (CHECKPOINT, BEST, "tokenizer.json"):
            (work_dir / name).unlink(missing_ok=True)
    settings, shape = recipe.train, recipe.shape

    docs = data.read_corpus(corpus, recipe.data.file_glob)
    split = data.split_documents(docs, recipe.data.val_fraction, settings.seed)
    _write_json(work_dir / "split.json", {"train": [d.name for d in split.train], "val": [d.name for d in split.val]})
    log(f"corpus: {len(split.train)} training and {len(split.val)} validation documents "
        f"({', '.join(d.name for d in split.val)})")

    tokenizer = _tokenizer(work_dir / "tokenizer.json", split.train, recipe, log)
    train_stream = data.token_stream(split.train, tokenizer, recipe.data.chat_fraction, settings.seed)  # (N,)
    val_stream = data.token_stream(split.val, tokenizer, recipe.data.chat_fraction, settings.seed)  # (M,)
    T = shape.context_length
    val_batches = data.fixed_batches(val_stream, settings.batch_size, T, settings.eval_batches)
    log(f"tokens: {len(train_stream):,} training, {len(val_stream):,} validation")

    config = hf_config(shape, tokenizer)
    model = build_model(config, settings.seed)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"model: {n_params:,} parameters, {settings.steps} steps of {settings.batch_size}x{T} tokens")
    add_residual_dropout(model, settings.dropout)
    trainer = Trainer(model, settings, train_stream, val_batches, work_dir, log)
    trainer.resume()
    result = trainer.run()

    best = load_checkpoint(work_dir / BEST, ("model", "step", "val_loss"))
    _check_fits(best, model, work_dir / BEST)
    export_model(best["model"], config, tokenizer, out_dir)
    log(f"exported step {best['step']} (val loss {best['val_loss']:.4f}) to {out_dir}")

    # The reported loss is that of the shipped bfloat16 weights, on every validation window.
    model.load_state_dict({k: v.to(torch.bfloat16).float() for k, v in best["model"].items()}, strict=True)
    started = time.perf_counter()
    all_val = data.fixed_batches(val_stream, settings.batch_size, T, max_batches=10**9)
    val_loss = evaluate(model, all_val, bf16=False)
    summary = {
        "recipe": recipe.name,
        "parameters": n_params,
        "steps": result.step,
        "best_step": best["step"],
        "stopped_early": result.stopped_early,
        "training_tokens_seen": result.tokens_seen,
        "train_stream_tokens": len(train_stream),
        "val_stream_tokens": len(val_stream),
        "val_tokens_scored": sum(t.numel() for _, t in all_val),
        "val_loss": val_loss,
        "val_perplexity": math.exp(val_loss),
        "train_wall_s": result.elapsed_s,
        "final_eval_s": time.perf_counter() - started,
        "val_documents": [d.name for d in split.val],
        "hardware": f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads",
        "torch": torch.__version__,
        "settings": asdict(recipe),
    }
    _write_json(work_dir / "summary.json", summary)
    log(f"final: val loss {val_loss:.4f}, perplexity {math.exp(val_loss):.1f} (bfloat16 weights, "
        f"{summary['val_tokens_scored']:,} tokens)")
    return summary


def _check_fits(best: dict, model, path: Path) -> None:
    """best.pt must hold this model's tensors (a leftover of another recipe in the same --work does not)."""
    shapes = {name: tuple(t.shape) for name, t in model.state_dict().items()}
    tensors = best["model"]
    fits = (isinstance(tensors, dict) and all(isinstance(t, torch.Tensor) for t in tensors.values())
            and {name: tuple(t.shape) for name, t in tensors.items()} == shapes
            and isinstance(best["step"], int) and isinstance(best["val_loss"], (int, float)))
    if not fits:
        raise CheckpointError(f"{path} does not hold weights of this model; start over with --fresh "
                              "or use another --work folder")


def _tokenizer(path: Path, train_docs: list, recipe: Recipe, log) -> Tokenizer:
    if path.exists():  # a resumed run must keep the ids its checkpoint was trained with
        try:
            return Tokenizer.from_file(str(path))
        except Exception as err:  # noqa: BLE001 - the tokenizers library raises its own exception type
            raise CheckpointError(f"{path} is not a tokenizer file ({str(err).splitlines()[0][:200]}); start over "
                                  "with --fresh or use another --work folder") from None
    texts = [d.text for d in train_docs]
    if recipe.data.tokenizer_sample_chars:
        texts = _truncate(texts, recipe.data.tokenizer_sample_chars)
    started = time.perf_counter()
    tokenizer = train_tokenizer(texts, recipe.shape.vocab_size)
    write_with(path, lambda tmp: tokenizer.save(str(tmp)))
    log(f"tokenizer: {tokenizer.get_vocab_size()} tokens, trained in {time.perf_counter() - started:.1f}s")
    return tokenizer


def _truncate(texts: list[str], limit: int) -> list[str]:
    kept, total = [], 0
    for text in texts:
        kept.append(text[: max(0, limit - total)])
        total += len(kept[-1])
    return [t for t in kept if t]


def _write_json(path: Path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2) + "\n")
