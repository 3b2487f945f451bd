"""`glasslm generate` / `glasslm chat` with careless input: text that is not UTF-8 (argv or stdin),
numbers out of range, an empty --model. Each is one message, never a traceback."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from desktop.cli import main

REPO = Path(__file__).resolve().parents[2]
BARD = REPO / "assets" / "models" / "bard-mini"


def test_a_chat_line_that_is_not_utf8_is_skipped_with_one_message():
    done = subprocess.run([sys.executable, "-m", "desktop.cli", "chat", "--model", str(BARD), "--device", "cpu",
                           "--max-new-tokens", "2"], cwd=REPO, input=b"caf\xe9 au lait\nWhat news?\n",
                          capture_output=True)
    err = done.stderr.decode("utf-8", "replace")
    assert done.returncode == 0 and "Traceback" not in err
    assert "the line 'caf\\xe9 au lait' is not valid UTF-8 text; skipped it" in err
    assert err.count("generated tokens") == 1  # the good line was answered, the bad one was not sent


@pytest.mark.parametrize("argv, message", [
    (["generate", "caf\udce9"], "the argument 'caf\\xe9' is not valid UTF-8 text"),
    (["chat", "--system", "\udcff"], "is not valid UTF-8 text"),
    (["generate", "hi", "--seed", "99999999999999999999999"], "argument --seed: must be from 0 to"),
    (["generate", "hi", "--top-k", "-1"], "argument --top-k: must be from 0 to"),
    (["generate", "hi", "--temperature", "inf"], "argument --temperature: must be a finite number"),
    (["generate", "hi", "--device", "cuda:x"], "argument --device: 'cuda:x' is not a device"),
    (["generate", "hi", "--model", ""], "argument --model: is empty"),
])
def test_bad_engine_arguments_are_one_message(capsys, argv, message):
    try:
        status = main(argv)
    except SystemExit as exit_:  # argparse's own errors: usage line + one message, exit 2
        status = exit_.code
    err = capsys.readouterr().err
    assert status == 2 and message in err and "Traceback" not in err
