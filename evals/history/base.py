"""Helpers shared by the history mixins: timestamps, JSON columns, the `@sql` guard.

Nothing here opens a database; see `store.py`.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from dataclasses import asdict, is_dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, TypeVar

from ..errors import HistoryError

F = TypeVar("F", bound=Callable[..., Any])


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


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


def explain(path: Path, exc: sqlite3.Error) -> HistoryError:
    text = str(exc).lower()
    if "locked" in text or "busy" in text:
        return HistoryError(
            f"the history database {path} is locked by another process; close the other "
            "glasslm window or command, or pass --db with another file"
        )
    if "not a database" in text or "malformed" in text or "corrupt" in text:
        return HistoryError(
            f"{path} is corrupt or not an SQLite database; glasslm leaves it untouched: "
            "move it aside or pass --db with another file"
        )
    return HistoryError(f"history database {path}: {exc}; check the file and its folder permissions")


def sql(method: F) -> F:
    """Serialize access to the connection and turn sqlite errors into `HistoryError`."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if self.db is None:
            raise HistoryError(f"the history database {self.path} is closed")
        with self._lock:
            try:
                return method(self, *args, **kwargs)
            except sqlite3.Error as exc:
                raise explain(self.path, exc) from exc

    return wrapper  # type: ignore[return-value]
