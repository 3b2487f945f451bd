"""Plain conversions between engine values and what the app stores or shows as text.

Tokens to/from the JSON kept with each assistant message (so the token and attention views
work after a restart), the flat settings dict stored with replies and conversations, and the
one-line summaries shown under each reply. No Qt, no SQL.
"""
from __future__ import annotations

import math

import engine


def tokens_to_json(tokens: list[engine.Token]) -> list[dict]:
    return [
        {"id": t.id, "text": t.text, "logprob": t.logprob, "top": [[a.id, a.text, a.logprob] for a in t.top]}
        for t in tokens
    ]


def tokens_from_json(data) -> list[engine.Token]:
    out = []
    for item in data or []:
        top = tuple(engine.Alternative(int(i), str(text), float(lp)) for i, text, lp in item.get("top", []))
        out.append(engine.Token(int(item["id"]), item.get("text", ""), float(item["logprob"]), top))
    return out


def reply_settings(sampling: engine.Sampling, system_prompt: str, info: engine.ModelInfo | None) -> dict:
    """The flat dict stored with a reply: sampling fields, system prompt and the model that ran."""
    flat = {k: v for k, v in sampling.to_dict().items() if k not in ("stop", "stop_on_eos")}
    flat["system_prompt"] = system_prompt
    if info is not None:
        flat.update(model_path=info.path, model_name=info.name, precision=info.precision, device=info.device)
    return flat


def sampling_from_settings(settings: dict | None) -> engine.Sampling:
    return engine.Sampling.from_dict(settings or {})


def settings_summary(settings: dict | None) -> str:
    s = settings or {}
    temperature = s.get("temperature", 0.0)
    parts = ["greedy" if not temperature else f"temp {temperature:g}"]
    if s.get("top_k"):
        parts.append(f"top-k {s['top_k']}")
    if s.get("top_p", 1.0) < 1.0:
        parts.append(f"top-p {s['top_p']:g}")
    if s.get("min_p"):
        parts.append(f"min-p {s['min_p']:g}")
    if s.get("repetition_penalty", 1.0) != 1.0:
        parts.append(f"rep {s['repetition_penalty']:g}")
    parts.append(f"max {s.get('max_new_tokens', 256)}")
    if s.get("seed") is not None:
        parts.append(f"seed {s['seed']}")
    if s.get("precision"):
        parts.append(f"{s.get('model_name') or 'model'} {s['precision']} {s.get('device', '')}".strip())
    return ", ".join(parts)


STOP_WORDS = {"eos": "", "stop": "stop string", "length": "max tokens", "context": "context full",
              "cancelled": "stopped"}


def stats_summary(stats: dict | None) -> str:
    s = stats or {}
    n = s.get("generated_tokens", 0)
    parts = [f"{n} token{'s' if n != 1 else ''}",
             f"first token {s.get('time_to_first_token_s', 0.0):.2f} s",
             f"{s.get('decode_tokens_per_s', 0.0):.1f} tok/s"]
    if s.get("reused_prompt_tokens"):  # the KV cache at work: a follow-up turn prefills only what is new
        parts.append(f"KV cache reused {s['reused_prompt_tokens']} of {s.get('prompt_tokens', 0)} prompt tokens")
    reason = STOP_WORDS.get(s.get("stop_reason", ""), s.get("stop_reason", ""))
    if reason:
        parts.append(reason)
    if s.get("dropped_messages"):
        parts.append(f"{s['dropped_messages']} oldest messages left out to fit the context")
    return " · ".join(parts)


def probability(logprob: float) -> float:
    return math.exp(logprob) if logprob > -700 else 0.0
