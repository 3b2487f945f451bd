"""Console conventions shared by every glasslm command (`glasslm`, `python -m evals`, `python -m engine.train`).

`not_utf8(texts)`: the one-line message for the first argument or line that is not valid UTF-8
(Python hands undecodable bytes over as lone surrogates, which tokenizers and SQLite reject).
`quiet_closed_stdout()`: what to do after a BrokenPipeError on standard output
(`glasslm eval show 1 | head`): end quietly, as Python's documentation advises. Nothing here
parses arguments or prints.
"""
from __future__ import annotations

import os
import sys
from typing import Iterable

SIGPIPE_STATUS = 141  # the shell's status for a process ended by SIGPIPE


def shown(text: str) -> str:
    """`text` with undecodable bytes written as \\xNN, for a message."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


ARGUMENT_ADVICE = ("glasslm takes UTF-8 prompts, names and paths: check the terminal's or the script's encoding "
                   "(e.g. LANG=C.UTF-8), or rename the file")


def not_utf8(texts: Iterable[str], what: str = "argument", advice: str = ARGUMENT_ADVICE) -> str | None:
    """The message for the first text that is not valid UTF-8, or None when all are."""
    for text in texts:
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return f"the {what} '{shown(text)}' is not valid UTF-8 text; {advice}"
    return None


def tolerant_stdin() -> None:
    """Let input() hand undecodable bytes over (as surrogates) instead of raising, so a bad line can
    be reported and skipped; works only before the first read."""
    reconfigure = getattr(sys.stdin, "reconfigure", None)
    if reconfigure is not None:
        try:
            reconfigure(errors="surrogateescape")
        except (ValueError, OSError):  # already read from, or not a text stream
            pass


def quiet_closed_stdout() -> int:
    """Point standard output at /dev/null, so the interpreter's final flush cannot fail again; 141."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real stdout (embedded, pytest capture)
        pass
    return SIGPIPE_STATUS
