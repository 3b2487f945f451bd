"""The engine's command-line verbs: `generate` (stream one completion) and `chat` (terminal chat).

Only argument parsing and printing; every error a user can cause reaches the caller as
an EngineError, which the top-level entry point prints as one line. Numbers out of range
(a huge --seed, an infinite --temperature) and an empty --model are argparse errors; a prompt
or a chat line that is not valid UTF-8 is one message (a chat line is skipped, the chat goes on).
"""
from __future__ import annotations

import argparse
import math
import re
import sys

from .console import not_utf8, tolerant_stdin
from .devices import PRECISIONS
from .errors import EngineError
from .loader import load
from .sampling import NUMBER_FIELDS, Sampling

MAX_SEED = 2**63 - 1
DEVICE = re.compile(r"auto|cpu|cuda(:\d{1,3})?")


def whole(low: int, high: int):
    """argparse type: an integer in [low, high]."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, not {text}")
        return value
    return parse


def finite(text: str) -> float:
    """argparse type: a finite number (not nan or inf)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, not {text}")
    return value


def device(text: str) -> str:
    """argparse type: auto, cpu or cuda[:N]."""
    if not DEVICE.fullmatch(text.strip().lower()):
        raise argparse.ArgumentTypeError(f"{text!r} is not a device; use auto, cpu or cuda[:N]")
    return text


def model_path(text: str) -> str:
    """argparse type: an empty --model (a script's unset variable) is an error, not the default model."""
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty; give a model folder or file, or leave --model out")
    return text


def add_model_arguments(parser: argparse.ArgumentParser):
    parser.add_argument("--model", type=model_path, help="model folder or .gguf file (default: SmolLM2-135M-Instruct)")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS)
    parser.add_argument("--device", default="auto", type=device, help="auto, cpu or cuda[:N]")


def add_sampling_arguments(parser: argparse.ArgumentParser):
    parser.add_argument("--temperature", type=finite, help="0 = greedy (default: the model's generation_config)")
    parser.add_argument("--top-k", type=whole(0, 2**31 - 1))
    parser.add_argument("--top-p", type=finite)
    parser.add_argument("--min-p", type=finite)
    parser.add_argument("--repetition-penalty", type=finite)
    parser.add_argument("--max-new-tokens", type=whole(0, 2**31 - 1), default=256)
    parser.add_argument("--seed", type=whole(0, MAX_SEED))
    parser.add_argument("--stop", action="append", default=[], help="stop string (repeatable)")


def sampling_from_args(model, args) -> Sampling:
    overrides = {
        name: getattr(args, name)
        for name in NUMBER_FIELDS
        if getattr(args, name) is not None
    }
    return model.default_sampling(stop=tuple(args.stop), **overrides)


def register(subparsers):
    gen = subparsers.add_parser("generate", help="stream a completion of a prompt")
    add_model_arguments(gen)
    add_sampling_arguments(gen)
    gen.add_argument("--chat", action="store_true", help="wrap the prompt as a user turn with the chat template")
    gen.add_argument("prompt")
    gen.set_defaults(handler=run_generate)

    chat = subparsers.add_parser("chat", help="interactive chat in the terminal")
    add_model_arguments(chat)
    add_sampling_arguments(chat)
    chat.add_argument("--system", help="system prompt")
    chat.set_defaults(handler=run_chat)


def load_from_args(args):
    """Load --model (or the default, saying so when it fell back to bard-mini) and print what was loaded."""
    from .loader import default_model_note

    if not args.model and (note := default_model_note()):
        print(note, file=sys.stderr)
    model = load(args.model, device=args.device, precision=args.precision)
    print(describe_loaded(model.info), file=sys.stderr)
    return model


def describe_loaded(info) -> str:
    """'SmolLM2-135M-Instruct.Q4_1: llama, 135M parameters, GGUF Q4_1 -> fp32 on cpu'."""
    stored = f"{info.source_format} \u2192 " if info.source_format else ""
    return (f"{info.name}: {info.model_type}, {info.n_params / 1e6:.0f}M parameters, "
            f"{stored}{info.precision} on {info.device}")


def format_stats(stats, memory: dict) -> str:
    weights = memory["weights_bytes"] / 2**20
    kv = memory["kv_cache_bytes"] / 2**20
    return (f"[{stats.prompt_tokens} prompt + {stats.generated_tokens} generated tokens | "
            f"first token {stats.time_to_first_token_s * 1000:.0f} ms | prefill {stats.prefill_tokens_per_s:.0f} tok/s | "
            f"decode {stats.decode_tokens_per_s:.1f} tok/s | stop: {stats.stop_reason} | "
            f"weights {weights:.1f} MiB ({', '.join(memory['weights_bytes_by_dtype'])}) + KV cache {kv:.1f} MiB on {memory['device']}]")


def check_text(args) -> None:
    """The prompt, system prompt and stop strings must be UTF-8 text (argv can carry undecodable bytes)."""
    texts = [t for t in (getattr(args, "prompt", None), getattr(args, "system", None), *args.stop) if t is not None]
    bad = not_utf8(texts, "text")
    if bad is not None:
        raise EngineError(bad)


def run_generate(args) -> int:
    check_text(args)
    model = load_from_args(args)
    settings = sampling_from_args(model, args)
    if args.chat:
        stream = model.chat([{"role": "user", "content": args.prompt}], settings)
    else:
        stream = model.generate(model.tokenizer.encode(args.prompt, add_special_tokens=True), settings)
        sys.stdout.write(args.prompt)
    for token in stream:
        sys.stdout.write(token.text)
        sys.stdout.flush()
    sys.stdout.write("\n")
    print(format_stats(stream.stats, model.memory()), file=sys.stderr)
    return 0


def run_chat(args) -> int:
    check_text(args)
    tolerant_stdin()
    model = load_from_args(args)
    settings = sampling_from_args(model, args)
    messages = [{"role": "system", "content": args.system}] if args.system else []
    print("Empty line or Ctrl-D to quit.", file=sys.stderr)
    while True:
        try:
            line = input("> ")
        except EOFError:
            break
        if not line.strip():
            break
        bad = not_utf8([line], "line", "skipped it: check the terminal's encoding (e.g. LANG=C.UTF-8), then type it "
                       "again")
        if bad is not None:
            print(f"glasslm: {bad}", file=sys.stderr)
            continue
        messages.append({"role": "user", "content": line})
        stream = model.chat(messages, settings, truncate=True)
        reply = []
        try:
            for token in stream:
                reply.append(token.text)
                sys.stdout.write(token.text)
                sys.stdout.flush()
        except KeyboardInterrupt:
            stream.cancel()
        sys.stdout.write("\n")
        print(format_stats(stream.stats, model.memory()), file=sys.stderr)
        messages.append({"role": "assistant", "content": "".join(reply)})
    return 0
