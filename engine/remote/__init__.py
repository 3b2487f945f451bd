"""Models served elsewhere, by any OpenAI-compatible server (vLLM, llama.cpp's server, Ollama, TGI,
`glasslm serve`), used like a loaded model: `connect(url, model)` returns a `RemoteModel`.

A remote model is named where a local path would be by a "remote path", the base URL with the
served model id as its fragment (`http://host:8000/v1#Qwen2.5-7B-Instruct`): `remote_path`
writes one, `parse_remote_path` reads one, `is_remote` tells them from files. API keys are never
part of a remote path (paths are stored in histories and settings): they come from the caller,
from `remember_key` (this process only) or from $GLASSLM_API_KEY. Standard library HTTP only.
"""
from __future__ import annotations

import os

from .client import CannotScore, OpenAIClient, normalize_base_url, sampling_fields
from .http import Endpoint, RemoteError, StreamHandle
from .model import RemoteModel, card_fingerprint, connect
from .stream import RemoteGeneration

API_KEY_ENV = "GLASSLM_API_KEY"
_keys: dict[str, str] = {}  # base URL -> API key, for this process only


def is_remote(path) -> bool:
    return isinstance(path, str) and path.strip().lower().startswith(("http://", "https://"))


def remote_path(url: str, model: str | None) -> str:
    base = normalize_base_url(url)
    return f"{base}#{model}" if model else base


def parse_remote_path(path: str) -> tuple[str, str | None]:
    """(base URL, served model id or None) of a remote path."""
    url, _, model = path.strip().partition("#")
    return normalize_base_url(url), (model or None)


def remember_key(url: str, api_key: str | None):
    """Keep url's API key for this process (never written anywhere); None or "" forgets it."""
    base = normalize_base_url(url)
    if api_key:
        _keys[base] = api_key
    else:
        _keys.pop(base, None)


def api_key_for(url: str, api_key: str | None = None) -> str | None:
    return api_key or _keys.get(normalize_base_url(url)) or os.environ.get(API_KEY_ENV) or None


def connect_path(path: str, api_key: str | None = None, timeout_s: float = 120.0, retries: int = 4) -> RemoteModel:
    """connect() for a remote path, with its remembered or environment API key."""
    url, model = parse_remote_path(path)
    return connect(url, model, api_key=api_key_for(url, api_key), timeout_s=timeout_s, retries=retries)


__all__ = [
    "connect", "connect_path", "RemoteModel", "RemoteGeneration", "OpenAIClient", "Endpoint", "StreamHandle",
    "RemoteError", "CannotScore", "normalize_base_url", "sampling_fields", "card_fingerprint", "is_remote",
    "remote_path", "parse_remote_path", "remember_key", "api_key_for", "API_KEY_ENV",
]
