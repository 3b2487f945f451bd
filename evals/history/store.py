"""The `History` object: opens, validates and migrates the glasslm SQLite database.

This package is the only code in glasslm that runs SQL. `History.open` refuses files that
are not glasslm databases (and never writes to them), converts "database is locked" and
corruption into one-sentence `HistoryError`s, turns on WAL and foreign keys, and applies
pending migrations. The conversation API lives in `chats.py`, the eval-run API in `runs.py`;
both are mixed into `History` so one object owns the connection. It knows nothing about
models, suites or metrics: callers pass plain dicts.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
from pathlib import Path

import sqlite_utils

from ..errors import HistoryError
from .base import explain, now, sql
from .chats import ChatStore
from .migrations import MIGRATIONS
from .runs import RunStore

APPLICATION_ID = 0x474C4C4D  # "GLLM" in PRAGMA application_id marks a glasslm database
SQLITE_HEADER = b"SQLite format 3\x00"
MIGRATIONS_TABLE = "_glasslm_migrations"

def default_db_path() -> Path:
    """$GLASSLM_DB, else history.db in the platform's user data folder."""
    env = os.environ.get("GLASSLM_DB")
    if env:
        return Path(env).expanduser()
    return user_data_dir() / "history.db"


def user_data_dir() -> Path:
    """The per-user data folder: XDG on Linux, Application Support on macOS, APPDATA on Windows."""
    home = Path.home()
    if sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    elif os.name == "nt":
        base = Path(os.environ.get("APPDATA") or home / "AppData" / "Roaming")
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or home / ".local" / "share")
    return base / "glasslm"


class History(ChatStore, RunStore):
    """One open glasslm database. Build it with `History.open`; `__init__` only stores."""

    def __init__(self, db: sqlite_utils.Database, path: Path):
        self.db: sqlite_utils.Database | None = db
        self.path = path
        self._lock = threading.RLock()

    @classmethod
    def open(cls, path: str | Path | None = None, *, timeout: float = 5.0) -> "History":
        """Open (creating if missing) and migrate the database; raises HistoryError.

        `timeout` is how long to wait for another process's lock before giving up.
        """
        path = Path(path).expanduser() if path is not None else default_db_path()
        _check_header(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise HistoryError(f"cannot create the folder for {path}: {exc.strerror}") from exc
        try:
            # isolation_level=None: nothing stays in an implicit transaction holding the lock;
            # every write goes through db.atomic().
            conn = sqlite3.connect(str(path), timeout=timeout, check_same_thread=False,
                                   isolation_level=None)
        except sqlite3.Error as exc:
            raise explain(path, exc) from exc
        try:
            db = sqlite_utils.Database(conn)
            _claim(db, path)
            db.execute("PRAGMA foreign_keys = ON")
            if db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                db.execute("PRAGMA journal_mode = WAL")
            # In WAL mode NORMAL never corrupts the file and loses no commit when the process is
            # killed (only on power loss); it saves an fsync per committed item.
            db.execute("PRAGMA synchronous = NORMAL")
            _migrate(db, path)
        except sqlite3.Error as exc:
            conn.close()
            raise explain(path, exc) from exc
        except HistoryError:
            conn.close()
            raise
        return cls(db, path)

    def close(self) -> None:
        with self._lock:
            if self.db is not None:
                self.db.close()
                self.db = None

    def __enter__(self) -> "History":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @sql
    def schema_version(self) -> list[str]:
        """Names of the migrations applied to this file, in order."""
        return [r[0] for r in self.db.execute(f"SELECT name FROM {MIGRATIONS_TABLE} ORDER BY rowid")]


def _check_header(path: Path) -> None:
    """Reject a non-empty file that is not SQLite before sqlite3 touches it."""
    if not path.exists():
        return
    if path.is_dir():
        raise HistoryError(f"{path} is a folder; pass --db with a file path")
    try:
        with path.open("rb") as f:
            head = f.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise HistoryError(f"cannot read {path}: {exc.strerror}") from exc
    if head and head != SQLITE_HEADER:
        raise HistoryError(
            f"{path} is not a glasslm database (not even SQLite); glasslm leaves it untouched: "
            "pass --db with another file"
        )


def _claim(db: sqlite_utils.Database, path: Path) -> None:
    """Mark an empty file as ours, or refuse a database that belongs to something else."""
    app_id = db.execute("PRAGMA application_id").fetchone()[0]
    has_tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0
    if app_id == APPLICATION_ID:
        return
    if has_tables or app_id != 0:
        raise HistoryError(
            f"{path} is an SQLite database but not a glasslm one; glasslm leaves it untouched: "
            "pass --db with another file"
        )
    db.execute(f"PRAGMA application_id = {APPLICATION_ID}")


def _migrate(db: sqlite_utils.Database, path: Path) -> None:
    db.execute(
        f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    applied = {r[0] for r in db.execute(f"SELECT name FROM {MIGRATIONS_TABLE}")}
    known = {m.__name__ for m in MIGRATIONS}
    if applied - known:
        raise HistoryError(
            f"{path} was written by a newer glasslm (schema {sorted(applied - known)[-1]}); "
            "upgrade glasslm or pass --db with another file"
        )
    for migration in MIGRATIONS:
        if migration.__name__ in applied:
            continue
        with db.atomic():
            migration(db)
            db.execute(
                f"INSERT INTO {MIGRATIONS_TABLE} (name, applied_at) VALUES (?, ?)",
                [migration.__name__, now()],
            )
