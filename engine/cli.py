"""The engine's command-line verbs: `generate` (stream one completion) and `chat` (terminal chat).

Only argument parsing and printing; every error a user can cause reaches the caller as
an EngineError, which the top-level entry point prints as one line.
"""
from __future__ import annotations

import argparse
import sys

from .devices import PRECISIONS
from .loader import load
from .types import Sampling


def add_model_arguments(parser: argparse.ArgumentParser):
    parser.add_argument("--model", help="model folder or .gguf file (default: SmolLM2-135M-Instruct)")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda[:N]")


def add_sampling_arguments(parser: argparse.ArgumentParser):
    parser.add_argument("--temperature", type=float, help="0 = greedy (default: the model's generation_config)")
    parser.add_argument("--top-k", type=int)
    parser.add_argument("--top-p", type=float)
    parser.add_argument("--min-p", type=float)
    parser.add_argument("--repetition-penalty", type=float)
    parser.add_argument("--max-new-tokens", type=int, default=256)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--stop", action="append", default=[], help="stop string (repeatable)")


def sampling_from_args(model, args) -> Sampling:
    overrides = {
        name: getattr(args, name)
        for name in ("temperature", "top_k", "top_p", "min_p", "repetition_penalty", "max_new_tokens", "seed")
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


def run_generate(args) -> int:
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
