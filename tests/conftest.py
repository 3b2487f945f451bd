"""Shared fixtures: a cache of small random checkpoints (one per architecture) for the session."""
import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
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
