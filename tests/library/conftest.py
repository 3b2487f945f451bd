"""Fixtures for the library tests: a temporary home folder (every place models are looked for
points inside it) and a LocalHub answering the Hub's API on 127.0.0.1."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from local_hub import LocalHub  # noqa: E402

ENV_CLEARED = ("HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_TOKEN", "HUGGING_FACE_HUB_TOKEN",
               "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_ENDPOINT", "OLLAMA_MODELS", "XDG_DATA_HOME",
               "GLASSLM_MODEL")


@pytest.fixture(scope="session")
def shipped_descriptions(tmp_path_factory) -> Path:
    """The shipped models' cached descriptions, read once a session: reading the default GGUF's header
    takes seconds (gguf's reader parses its whole vocabulary), and every temporary HOME starts with them."""
    from dataclasses import replace

    from engine.library import Locations, scan
    from engine.library.describe_cache import DescribeCache

    seed = tmp_path_factory.mktemp("library-seed") / "library.json"
    only_shipped = replace(Locations.from_environment(), hf_cache=None, lmstudio=(), ollama=(), gpt4all=())
    scan(only_shipped, cache=DescribeCache(seed))
    return seed


@pytest.fixture
def home(tmp_path, monkeypatch, shipped_descriptions) -> Path:
    """A fresh HOME; caches and settings live inside it, nothing of the real user's is read or written."""
    import shutil

    folder = tmp_path / "home"
    (folder / ".cache" / "glasslm").mkdir(parents=True)
    shutil.copyfile(shipped_descriptions, folder / ".cache" / "glasslm" / "library.json")
    for name in ENV_CLEARED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(folder))
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder / ".cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder / ".config"))
    return folder


@pytest.fixture
def hub():
    with LocalHub() as server:
        yield server
