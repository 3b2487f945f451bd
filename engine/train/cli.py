"""The `train` subcommand: `glasslm train` and `python -m engine.train`.

`register(subparsers)` adds the subcommand to an argparse parser (its handler is
`args.handler(args)`, which raises EngineError for mistakes a user can fix); `main(argv)` runs
it standalone. Progress lines go to stderr. Training itself lives in pipeline.py.
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from ..errors import EngineError
from .recipe import RECIPES


def register(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "train",
        help="train a small Llama-architecture model from text files",
        description="Pretrain a byte-level BPE tokenizer and a Llama-architecture model on a folder of "
        ".txt files, then write a Hugging Face model folder. Rerun with the same --work to resume.",
    )
    add_arguments(parser)
    parser.set_defaults(handler=run)
    return parser


def folder(text: str) -> Path:
    """argparse type of the folder flags: an empty value (a script's unset variable) is an error, not '.'."""
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty; give a folder path")
    return Path(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--corpus", type=folder, action="append", required=True,
                        help="folder of .txt files (repeatable)")
    parser.add_argument("--out", type=folder, required=True, help="model folder to write")
    parser.add_argument("--work", type=folder, required=True,
                        help="folder for the tokenizer, checkpoints and summary (rerun to resume)")
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="bard-mini",
                        help="model shape and settings (default: bard-mini, the bundled model)")
    parser.add_argument("--steps", type=int, help="override the recipe's number of steps")
    parser.add_argument("--batch-size", type=int, help="override the recipe's batch size")
    parser.add_argument("--max-minutes", type=float,
                        help="training-time budget in minutes, across resumes: the learning rate has decayed "
                        "by then, training stops and the best weights are exported")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--fresh", action="store_true", help="ignore checkpoints in --work and start over")


def check_arguments(args: argparse.Namespace) -> None:
    """Mistakes in the flags, as one EngineError before anything is read or written."""
    for flag, value, low, high in (("--steps", args.steps, 1, 10**9), ("--batch-size", args.batch_size, 1, 2**16),
                                   ("--threads", args.threads, 1, 4096)):
        if value is not None and not low <= value <= high:
            raise EngineError(f"{flag} must be between {low} and {high:,}, not {value}")
    minutes = args.max_minutes
    if minutes is not None and not (math.isfinite(minutes) and 0 < minutes <= 10**7):
        raise EngineError(f"--max-minutes must be a positive number of minutes, not {minutes}")


def run(args: argparse.Namespace) -> int:
    import torch

    from .pipeline import run_recipe

    check_arguments(args)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)  # tiny Adam moments as denormals slow CPU float math several-fold
    recipe = RECIPES[args.recipe].with_overrides(
        steps=args.steps, batch_size=args.batch_size, max_minutes=args.max_minutes
    )
    run_recipe(recipe, args.corpus, args.work, args.out, log=_log, fresh=args.fresh)
    return 0


def _log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.train")
    add_arguments(parser)
    try:
        return run(parser.parse_args(argv))
    except EngineError as err:
        print(f"python -m engine.train: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; rerun with the same --work to resume from the last checkpoint", file=sys.stderr)
        return 130
