"""Helpers shared by the history mixins: timestamps, JSON columns, the `@sql` guard, lock waits.

`@sql` runs a method on the calling thread's own connection (one per thread, so the app's reads
never wait behind an eval's writes: WAL lets readers and one writer work at once; an in-memory
database has one connection, taken in turn), waits for a write lock held elsewhere (up to
the history's `lock_timeout`, in short steps so Ctrl-C still works), and turns sqlite errors
into one-sentence `HistoryError`s. `write(history)` opens a write transaction that takes the
lock at its start (BEGIN IMMEDIATE), so a busy database is waited for, never half written.
Nothing here opens a database; see `store.py`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sqlite3
import time
from dataclasses import asdict, is_dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from .errors import HistoryDamagedError, HistoryError, HistoryLockedError, HistoryReadOnlyError

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_LOCK_TIMEOUT_S = 45.0  # how long to wait for another program's write lock
LOCK_TIMEOUT_ENV = "GLASSLM_LOCK_TIMEOUT"
BUSY_STEP_MS = 200  # SQLite's own wait per attempt; between attempts Python can take Ctrl-C
SQLITE_MAX_INT = 2**63 - 1


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def lock_timeout() -> float:
    """$GLASSLM_LOCK_TIMEOUT seconds (tests set a short one), else DEFAULT_LOCK_TIMEOUT_S."""
    text = os.environ.get(LOCK_TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_LOCK_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 86400:
        raise HistoryError(f"{LOCK_TIMEOUT_ENV} must be a number of seconds between 0 and 86400, not {text!r}")
    return value


def to_json(value: Any, sort_keys: bool = False) -> str | None:
    """JSON text for a *_json column; dataclasses (engine.Stats, Sampling) become dicts.

    Key order is kept (reports list metrics in display order); pass sort_keys for a canonical
    text to hash.
    """
    if value is None:
        return None
    if hasattr(value, "to_dict"):
        value = value.to_dict()
    elif is_dataclass(value) and not isinstance(value, type):
        value = asdict(value)
    return json.dumps(value, sort_keys=sort_keys, default=str, ensure_ascii=False)


def from_json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def is_locked(exc: sqlite3.Error) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


def explain(path: Path, exc: sqlite3.Error, *, opening: bool = False, waited_s: float | None = None) -> HistoryError:
    """The HistoryError for an sqlite error. `opening`: nothing has been written in this session."""
    text = str(exc).lower()
    if is_locked(exc):
        waited = f" (glasslm waited {waited_s:.1f} s)" if waited_s else ""
        return HistoryLockedError(
            f"the history database {path} is locked by another process{waited}; close the program that holds it "
            "(another glasslm writing, or an SQLite browser with unsaved changes), then run the command again"
        )
    if "readonly" in text or "read-only" in text:
        return HistoryReadOnlyError(read_only_message(path))
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        if opening:
            return HistoryDamagedError(
                f"{path} is corrupt ({exc}); glasslm leaves it untouched: keep a copy, recover what SQLite can with "
                f"`sqlite3 {path} .recover | sqlite3 recovered.db`, or pass --db with another file"
            )
        return HistoryDamagedError(
            f"{path} is corrupt ({exc}); stop using it: keep a copy, recover what SQLite can with "
            f"`sqlite3 {path} .recover | sqlite3 recovered.db`, or pass --db with another file"
        )
    if "unable to open" in text or "disk i/o" in text:
        return HistoryError(f"cannot open or write the history database {path} ({exc}); check that the disk has "
                            "space and that you may write the file and its folder, or pass --db with another file")
    if "full" in text:
        return HistoryError(f"the disk holding {path} is full; free some space (nothing was lost: the last write "
                            "was rolled back)")
    return HistoryError(f"history database {path}: {exc}; check the file and its folder permissions")


def read_only_message(path: Path) -> str:
    return (f"the history database {path} is read-only here (the file or its folder is not writable); "
            "`glasslm eval runs`, `show`, `compare` and `export` can read it, but nothing can be added: "
            "make it writable or pass --db with another file")


class Tables:
    """What every history mixin shares: `db` (this thread's sqlite_utils.Database, from `History`)
    and two small query helpers. Callers are inside an `@sql` method."""

    db: Any

    def _all(self, query: str, args: list) -> list[dict]:
        cur = self.db.execute(query, args)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row)) for row in cur.fetchall()]

    def _one(self, query: str, args: list) -> dict | None:
        rows = self._all(query, args)
        return rows[0] if rows else None


def sql(method: F) -> F:
    """Run on this thread's connection, wait out other connections' locks, and raise `HistoryError`s.

    Only the outermost call retries a locked database (its transaction was rolled back whole,
    so running it again is safe); nested calls pass sqlite errors up to it.
    """

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        with self._turn():
            if self.db is None:
                raise HistoryError(f"the history database {self.path} is closed")
            depth = self._depth()
            self._local.depth = depth + 1
            try:
                if depth:
                    return method(self, *args, **kwargs)
                return _with_retries(self, method, args, kwargs)
            finally:
                self._local.depth = depth

    return wrapper  # type: ignore[return-value]


def _with_retries(history: Any, method: Callable, args: tuple, kwargs: dict) -> Any:
    started = time.monotonic()
    while True:
        try:
            return method(history, *args, **kwargs)
        except sqlite3.Error as exc:
            waited = time.monotonic() - started
            if is_locked(exc) and waited < history.lock_timeout and not history.db.conn.in_transaction:
                time.sleep(min(BUSY_STEP_MS / 1000, max(0.0, history.lock_timeout - waited)))
                continue
            raise explain(history.path, exc, waited_s=waited if is_locked(exc) else None) from exc
        except OverflowError as exc:
            raise HistoryError(f"a number is too large to store in the history database (the largest is "
                               f"{SQLITE_MAX_INT}); check the numbers you gave") from exc
        except UnicodeEncodeError as exc:
            raise HistoryError("text to store is not valid UTF-8 (a file name or argument with undecodable "
                               "bytes?); rename it or pass UTF-8 text") from exc


@contextlib.contextmanager
def write(history: Any) -> Iterator[None]:
    """A write transaction that takes the write lock at BEGIN (nested: a savepoint).

    BEGIN IMMEDIATE makes SQLite wait for a busy database at the start instead of failing
    at the first write of a deferred transaction, where no wait is possible.
    """
    conn = history.db.conn
    if history.read_only:
        raise HistoryReadOnlyError(read_only_message(history.path))
    if conn.in_transaction:
        with history.db.atomic():
            yield
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    try:
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
