"""OpenAI's response shapes, built from engine tokens: chat completions and their stream chunks,
text completions (with `echo` and the legacy `logprobs` object) and their chunks, `usage`.

`finish_reason` is "stop" for an end-of-sequence token or a stop string (with vLLM's extra
`stop_reason` naming the stop string, null for end of sequence) and "length" when max_tokens
or the context window ran out. Pure functions: no model, no HTTP.
"""
from __future__ import annotations

import time
import uuid

import engine

FINISH = {"eos": "stop", "stop": "stop", "length": "length", "context": "length", "cancelled": "abort"}


def new_id(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:24]}"


def now() -> int:
    return int(time.time())


def finish_reason(stats: engine.Stats) -> str:
    return FINISH.get(stats.stop_reason, "stop")


def stop_reason(stats: engine.Stats, settings: engine.Sampling, text: str):
    """vLLM's stop_reason: the stop string that ended the text, None otherwise."""
    if stats.stop_reason != "stop":
        return None
    return next((s for s in settings.stop if s), None)


def usage(prompt_tokens: int, completion_tokens: int) -> dict:
    return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens}


# ---- chat --------------------------------------------------------------------------------------

def chat_logprob_entry(tokenizer, token: engine.Token, top: int) -> dict:
    def one(token_id: int, text: str | None, logprob: float) -> dict:
        text = tokenizer.token_text(token_id) if text is None else text
        return {"token": text, "logprob": logprob, "bytes": list(text.encode("utf-8"))}

    entry = one(token.id, None, token.logprob)
    entry["top_logprobs"] = [one(a.id, a.text, a.logprob) for a in token.top[:top]]
    return entry


def chat_response(model_name: str, choices: list, logprobs_top: int | None, tokenizer, settings) -> dict:
    out, completion_tokens, prompt_tokens = [], 0, 0
    for c in choices:
        completion_tokens += c.stats.generated_tokens
        prompt_tokens = c.stats.prompt_tokens
        out.append({
            "index": c.index,
            "message": {"role": "assistant", "content": c.text},
            "logprobs": ({"content": [chat_logprob_entry(tokenizer, t, logprobs_top) for t in c.tokens]}
                         if logprobs_top is not None else None),
            "finish_reason": finish_reason(c.stats),
            "stop_reason": stop_reason(c.stats, settings, c.text),
        })
    return {"id": new_id("chatcmpl"), "object": "chat.completion", "created": now(), "model": model_name,
            "choices": out, "usage": usage(prompt_tokens, completion_tokens)}


def chat_chunk(chunk_id: str, created: int, model_name: str, index: int, delta: dict, logprobs=None,
               finish: str | None = None, stop: str | None = None) -> dict:
    choice = {"index": index, "delta": delta, "logprobs": logprobs, "finish_reason": finish}
    if finish is not None:
        choice["stop_reason"] = stop
    return {"id": chunk_id, "object": "chat.completion.chunk", "created": created, "model": model_name,
            "choices": [choice]}


# ---- text completions --------------------------------------------------------------------------

class LegacyLogprobs:
    """The completions API's logprobs object, built token by token: tokens, token_logprobs,
    top_logprobs ({token text: logprob}) and text_offset (character offsets into the returned text)."""

    def __init__(self, offset: int = 0):
        self.tokens: list[str] = []
        self.token_logprobs: list[float | None] = []
        self.top_logprobs: list[dict | None] = []
        self.text_offset: list[int] = []
        self.offset = offset

    def add(self, text: str, logprob: float | None, top: tuple | None, shown: str | None = None) -> None:
        self.tokens.append(text)
        self.token_logprobs.append(logprob)
        self.top_logprobs.append(None if top is None else {a.text: a.logprob for a in top})
        self.text_offset.append(self.offset)
        self.offset += len(text if shown is None else shown)

    def as_dict(self) -> dict:
        return {"tokens": self.tokens, "token_logprobs": self.token_logprobs, "top_logprobs": self.top_logprobs,
                "text_offset": self.text_offset}


def completion_choice(index: int, text: str, logprobs: LegacyLogprobs | None, stats: engine.Stats | None,
                      settings) -> dict:
    return {"index": index, "text": text, "logprobs": logprobs.as_dict() if logprobs is not None else None,
            "finish_reason": finish_reason(stats) if stats is not None else None,
            "stop_reason": stop_reason(stats, settings, text) if stats is not None else None}


def completion_response(model_name: str, choices: list[dict], prompt_tokens: int, completion_tokens: int) -> dict:
    return {"id": new_id("cmpl"), "object": "text_completion", "created": now(), "model": model_name,
            "choices": choices, "usage": usage(prompt_tokens, completion_tokens)}


def completion_chunk(chunk_id: str, created: int, model_name: str, choice: dict) -> dict:
    return {"id": chunk_id, "object": "text_completion", "created": created, "model": model_name,
            "choices": [choice]}
