"""Shared fixtures: a cache of small random checkpoints (one per architecture) for the session."""
import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# The tests' default model is the small bundled bard-mini (the app's is SmolLM2-135M-Instruct);
# tests of the real default model name its GGUF explicitly.
os.environ.setdefault("GLASSLM_MODEL", str(Path(__file__).resolve().parent.parent / "assets" / "models" / "bard-mini"))
sys.path.insert(0, str(Path(__file__).parent))

from checkpoints import make_checkpoint  # noqa: E402


@pytest.fixture(scope="session")
def checkpoint_factory(tmp_path_factory):
    made = {}

    def factory(arch="llama", tokenizer_style="bytelevel", **overrides):
        key = (arch, tokenizer_style, repr(sorted(overrides.items())))
        if key not in made:
            folder = tmp_path_factory.mktemp(f"ckpt-{arch}")
            made[key] = make_checkpoint(folder, arch, tokenizer_style, **overrides)
        return made[key]

    return factory
