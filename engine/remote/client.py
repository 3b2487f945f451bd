"""An OpenAI-compatible API as glasslm uses it: the served models, chat and text completions
(streamed or whole), and prompt log-probabilities through completions with `echo` + `logprobs`.

Works with vLLM, llama.cpp's server, Ollama, TGI and `glasslm serve`. `OpenAIClient` turns
engine `Sampling` into request fields (`top_k`, `min_p`, `repetition_penalty`, `ignore_eos` are
sent only when set, as the extras vLLM and llama.cpp accept) and answers into plain values; it
does not build `Token`s (see stream.py) or know about evals.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator
from urllib.parse import urlsplit, urlunsplit

from ..sampling import Sampling
from .http import Endpoint, RemoteError, StreamHandle

API_SUFFIXES = ("/chat/completions", "/completions", "/models")


def normalize_base_url(url: str) -> str:
    """'localhost:8000', 'http://host:8000', '.../v1/', '.../v1/chat/completions' -> 'http://host:8000/v1'."""
    text = (url or "").strip()
    if not text:
        raise RemoteError("the server URL is empty; give one like http://127.0.0.1:8000/v1")
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise RemoteError(f"{url!r} is not an http(s) URL; give one like http://127.0.0.1:8000/v1")
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        raise RemoteError(f"the port in {url!r} is not a number from 1 to 65535") from None
    path = parts.path.rstrip("/")
    for suffix in API_SUFFIXES:
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    if not path:
        path = "/v1"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def sampling_fields(settings: Sampling) -> dict:
    """Request fields for `settings`: OpenAI's, plus the extras (vLLM, llama.cpp) only when they are on."""
    body = {"temperature": settings.temperature, "top_p": settings.top_p, "max_tokens": settings.max_new_tokens}
    if settings.seed is not None:
        body["seed"] = settings.seed
    if settings.stop:
        body["stop"] = list(settings.stop)
    if settings.top_k:
        body["top_k"] = settings.top_k
    if settings.min_p:
        body["min_p"] = settings.min_p
    if settings.repetition_penalty != 1.0:
        body["repetition_penalty"] = settings.repetition_penalty
    if not settings.stop_on_eos:
        body["ignore_eos"] = True
    return body


@dataclass(frozen=True)
class EchoLogprobs:
    """A prompt's tokens as the server split it, each with its log-probability given the ones before."""
    tokens: tuple[str, ...]
    logprobs: tuple[float | None, ...]  # None for the first token (nothing precedes it)
    top: tuple[dict | None, ...]  # the most likely tokens at each position: {token text: logprob}


class OpenAIClient:
    def __init__(self, base_url: str, api_key: str | None = None, timeout_s: float = 120.0, retries: int = 4):
        self.base_url = normalize_base_url(base_url)
        self.endpoint = Endpoint(self.base_url, api_key or None, timeout_s, retries)

    # ---- models -----------------------------------------------------------------------------
    def models(self) -> list[dict]:
        answer = self.endpoint.request("GET", "/models")
        cards = answer.get("data")
        if not isinstance(cards, list) or not all(isinstance(c, dict) and isinstance(c.get("id"), str) for c in cards):
            raise RemoteError(f"{self.base_url}/models did not list models the OpenAI way ({{\"data\": [{{\"id\": ...}}]}}); "
                              "is this an OpenAI-compatible server?")
        return cards

    def model_card(self, model: str | None = None) -> dict:
        """The /v1/models entry of `model`, or of the only model served when model is None."""
        cards = self.models()
        names = ", ".join(c["id"] for c in cards) or "none"
        if model:
            for card in cards:
                if card["id"] == model:
                    return card
            raise RemoteError(f"{self.base_url} serves no model {model!r} (it serves: {names}); "
                              "pick one of those with --remote-model")
        if len(cards) == 1:
            return cards[0]
        if not cards:
            raise RemoteError(f"{self.base_url} serves no model yet; load one on the server first")
        raise RemoteError(f"{self.base_url} serves several models ({names}); choose one with --remote-model")

    # ---- generation -------------------------------------------------------------------------
    def chat(self, body: dict) -> dict:
        return self.endpoint.request("POST", "/chat/completions", {**body, "stream": False})

    def complete(self, body: dict) -> dict:
        return self.endpoint.request("POST", "/completions", {**body, "stream": False})

    def stream(self, path: str, body: dict, handle: StreamHandle | None = None) -> Iterator[dict]:
        """Chunks of a streamed "/chat/completions" or "/completions" answer (usage asked for in the last)."""
        return self.endpoint.stream(path, {**body, "stream": True, "stream_options": {"include_usage": True}},
                                    handle)

    # ---- scoring ----------------------------------------------------------------------------
    def echo_logprobs(self, model: str, prompt: str | list[int], top: int = 1) -> EchoLogprobs:
        """Log-probabilities of the prompt's own tokens: completions with echo, logprobs and one generated
        token (max_tokens 0 is refused by vLLM), which is cut off by the prompt's token count."""
        answer = self.complete({"model": model, "prompt": prompt, "max_tokens": 1, "temperature": 0,
                                "echo": True, "logprobs": top})
        choices = answer.get("choices") or [{}]
        logprobs = choices[0].get("logprobs") if isinstance(choices[0], dict) else None
        if not isinstance(logprobs, dict) or not isinstance(logprobs.get("token_logprobs"), list):
            raise CannotScore(f"{self.base_url} does not return prompt log-probabilities (completions with echo and "
                              "logprobs), so it cannot score choices")
        tokens = list(logprobs.get("tokens") or [])
        values = list(logprobs["token_logprobs"])
        tops = list(logprobs.get("top_logprobs") or [None] * len(values))
        usage = answer.get("usage") or {}
        n_prompt = usage.get("prompt_tokens")
        if not isinstance(n_prompt, int) or not 0 < n_prompt <= len(values):
            n_prompt = max(1, len(values) - 1)  # the one generated token is last
        if len(values) < n_prompt or n_prompt == 0:
            raise CannotScore(f"{self.base_url} echoed fewer token log-probabilities than the prompt has tokens, so "
                              "it cannot score choices")
        return EchoLogprobs(tuple(tokens[:n_prompt]), tuple(values[:n_prompt]), tuple(tops[:n_prompt]))


class CannotScore(RemoteError):
    """The server answers completions but gives no prompt log-probabilities (Ollama, some hosted APIs)."""
