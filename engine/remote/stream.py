"""A streamed answer from an OpenAI-compatible server as the engine's own `Generation` shape:
iterate it for `Token`s (text, log-probability and top alternatives from `logprobs`), read
`.stats` when it ends, `.cancel()` from any thread to stop it (the connection is closed, which
makes a server such as `glasslm serve` or vLLM stop generating).

Servers do not send token ids in chat answers, so each distinct token text gets a stable
negative id within one answer (the chosen token and its alternative compare equal); a server
that sends no log-probabilities gives tokens with logprob NaN and no alternatives. It does not
send requests itself beyond the one stream (see client.py).
"""
from __future__ import annotations

import math
import threading
import time
from typing import Iterator

from ..types import Alternative, Stats, Token
from .http import RemoteError, StreamHandle

FINISH_REASONS = {"stop": "eos", "eos": "eos", "length": "length", "abort": "cancelled", "cancelled": "cancelled"}


class RemoteGeneration:
    def __init__(self, chunks_of, chat: bool):
        """`chunks_of(handle)` opens the stream and returns its chunk iterator; `chat`: chat-completions
        chunks (delta.content, logprobs.content) rather than text-completions ones (text, logprobs.tokens)."""
        self.stats = Stats()
        self._chunks_of, self._chat = chunks_of, chat
        self._handle = StreamHandle()
        self._cancelled = threading.Event()
        self._ids: dict[str, int] = {}
        self._iterator = self._run()

    def cancel(self):
        """Stop before the next token; the stream then ends with stop_reason 'cancelled'."""
        self._cancelled.set()
        self._handle.close()

    def __iter__(self):
        return self

    def __next__(self) -> Token:
        return next(self._iterator)

    def text(self) -> str:
        return "".join(token.text for token in self)

    # ---- internals ------------------------------------------------------------------------------
    def _run(self) -> Iterator[Token]:
        stats, started = self.stats, time.perf_counter()
        first_at, finish, stop_string, count = None, None, None, 0
        try:
            for chunk in self._chunks_of(self._handle):
                if self._cancelled.is_set():
                    break
                usage = chunk.get("usage")
                if isinstance(usage, dict):
                    stats.prompt_tokens = int(usage.get("prompt_tokens") or stats.prompt_tokens)
                    stats.generated_tokens = int(usage.get("completion_tokens") or stats.generated_tokens)
                for choice in chunk.get("choices") or []:
                    if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                        continue
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
                        stop_string = choice.get("stop_reason")
                    for token in self._tokens(choice):
                        if first_at is None:
                            first_at = time.perf_counter()
                            stats.time_to_first_token_s = first_at - started
                        count += 1
                        yield token
        except RemoteError:
            if not self._cancelled.is_set():
                raise
        finally:
            self._handle.close()
        finished = time.perf_counter()
        stats.generated_tokens = stats.generated_tokens or count
        if self._cancelled.is_set():
            stats.stop_reason = "cancelled"
        elif finish == "stop" and isinstance(stop_string, str):
            stats.stop_reason = "stop"  # vLLM's stop_reason: the stop string that ended it (None for EOS)
        else:
            stats.stop_reason = FINISH_REASONS.get(finish or "", finish or "eos")
        stats.total_s = finished - started
        if first_at is not None and count > 1:
            stats.decode_tokens_per_s = (count - 1) / max(finished - first_at, 1e-9)

    def _tokens(self, choice: dict) -> list[Token]:
        if self._chat:
            text = (choice.get("delta") or {}).get("content") or ""
            entries = ((choice.get("logprobs") or {}).get("content")) or []
            pieces = [(e.get("token", ""), e.get("logprob"), e.get("top_logprobs") or []) for e in entries
                      if isinstance(e, dict)]
        else:
            text = choice.get("text") or ""
            lp = choice.get("logprobs") or {}
            tokens, values = lp.get("tokens") or [], lp.get("token_logprobs") or []
            tops = lp.get("top_logprobs") or [None] * len(tokens)
            pieces = [(t, v, [{"token": k, "logprob": p} for k, p in (top or {}).items()])
                      for t, v, top in zip(tokens, values, tops)]
        if not pieces:
            return [Token(-1, text, math.nan, ())] if text else []
        # Give each token its own text when the pieces spell the chunk; otherwise the chunk's text
        # goes to the last token of the chunk (a server that groups tokens differently).
        spelled = "".join(p[0] for p in pieces) == text
        out = []
        for i, (token_text, logprob, top) in enumerate(pieces):
            shown = token_text if spelled else (text if i == len(pieces) - 1 else "")
            alternatives = tuple(
                Alternative(self._id(a.get("token", "")), a.get("token", ""), _number(a.get("logprob")))
                for a in top if isinstance(a, dict))
            out.append(Token(self._id(token_text), shown, _number(logprob), alternatives))
        return out

    def _id(self, text: str) -> int:
        """One id per token text, so the chosen token and the same alternative compare equal."""
        if text not in self._ids:
            self._ids[text] = -1 - len(self._ids)
        return self._ids[text]


def _number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan
