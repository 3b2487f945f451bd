"""The `History` object: opens, validates and migrates the glasslm SQLite database.

This package is the only code in glasslm that runs SQL. `History.open` checks everything
before it changes anything: a file that is not SQLite, an SQLite file that is not glasslm's,
one written by a newer glasslm, and (before the session's first write) a damaged one, are
refused untouched. Only then does it mark a new file as glasslm's, turn on WAL and apply
pending migrations. A file or folder this process may not write is opened read-only when the
caller only reads (`writable=False`), and refused in one sentence otherwise. It waits for
other programs' locks (`lock_timeout`, see base.py) and turns sqlite errors into one-sentence
`HistoryError`s. Each thread that uses a `History` gets its own connection to the file (opened
on first use, closed with the history or when the thread ends). The models/settings API lives
in `models.py`, conversations in `chats.py`, eval runs in `runs.py`; all are mixed into `History`
so one object owns the connections. It knows nothing about the engine, suites or metrics:
callers pass plain dicts and dataclasses.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import threading
import time
import weakref
from pathlib import Path
from urllib.parse import quote

import sqlite_utils

from .errors import HistoryError, HistoryReadOnlyError
from .base import BUSY_STEP_MS, explain, is_locked, lock_timeout, now, read_only_message, sql
from .chats import ChatStore
from .migrations import MIGRATIONS
from .models import ModelStore
from .runs import RunStore

APPLICATION_ID = 0x474C4C4D  # "GLLM" in PRAGMA application_id marks a glasslm database
SQLITE_HEADER = b"SQLite format 3\x00"
MIGRATIONS_TABLE = "_glasslm_migrations"
MEMORY = ":memory:"


def default_db_path() -> Path:
    """$GLASSLM_DB, else history.db in the platform's user data folder.

    A GLASSLM_DB that is set but empty is an error (a script's unset variable must not
    silently write into the real history).
    """
    env = os.environ.get("GLASSLM_DB")
    if env is not None:
        if not env.strip():
            raise HistoryError("GLASSLM_DB is set but empty; unset it to use the default history, or give a file path")
        return Path(env).expanduser()
    return user_data_dir() / "history.db"


def db_path(value: str | Path | None) -> Path:
    """The database path for a --db value: None -> the default; an empty value is an error."""
    if value is None:
        return default_db_path()
    if not str(value).strip():
        raise HistoryError("--db is empty; give the history database's file path (or leave --db out for the "
                           "default)")
    return Path(value) if str(value) == MEMORY else Path(value).expanduser()


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


class History(ModelStore, ChatStore, RunStore):
    """One open glasslm database. Build it with `History.open`; `__init__` only stores.

    `db` is the calling thread's connection: the one `open` checked the file with for the thread
    that opened it, a new one for each other thread (`shared=True`, for ":memory:": one
    connection for all, used in turn)."""

    def __init__(self, db: sqlite_utils.Database, path: Path, read_only: bool = False,
                 lock_timeout_s: float = 45.0, shared: bool = False):
        self.path = path
        self.read_only = read_only  # opened without write access: every write raises HistoryReadOnlyError
        self.lock_timeout = lock_timeout_s  # seconds to wait for another program's write lock
        self._shared = shared
        self._first: sqlite_utils.Database | None = db
        self._opener = threading.get_ident()
        self._local = threading.local()  # .db: this thread's connection; .depth: nesting of @sql calls
        self._open_dbs: weakref.WeakSet = weakref.WeakSet()  # every thread's connection, to close them all
        self._open_dbs.add(db)
        self._lock = threading.RLock()  # a shared connection is used by one thread at a time
        self._closed = False

    @property
    def db(self) -> sqlite_utils.Database | None:
        """This thread's connection (opened on its first use); None once the history is closed."""
        if self._closed:
            return None
        if self._shared or threading.get_ident() == self._opener:
            return self._first
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite_utils.Database(_connect(self.path, self.read_only))
            if not self.read_only:
                db.execute("PRAGMA foreign_keys = ON")
                db.execute("PRAGMA synchronous = NORMAL")
            with self._lock:
                self._open_dbs.add(db)
            self._local.db = db
        return db

    def _turn(self):
        """Hold the shared connection for one call; per-thread connections need no turn."""
        return self._lock if self._shared else contextlib.nullcontext()

    def _depth(self) -> int:
        return getattr(self._local, "depth", 0)

    @classmethod
    def open(cls, path: str | Path | None = None, *, timeout: float | None = None,
             writable: bool = True) -> "History":
        """Open (creating if missing) and migrate the database; raises HistoryError.

        `timeout`: seconds to wait for another process's lock (default $GLASSLM_LOCK_TIMEOUT or
        45). `writable=False`: the caller only reads, so a file or folder this process may not
        write is opened read-only instead of refused.
        """
        path = db_path(path)
        wait = lock_timeout() if timeout is None else float(timeout)
        if str(path) == MEMORY:
            conn = sqlite3.connect(MEMORY, check_same_thread=False, isolation_level=None)
            db = sqlite_utils.Database(conn)
            _prepare(db, path, new=True)
            return cls(db, path, lock_timeout_s=wait, shared=True)
        _check_header(path)
        exists = path.is_file() and path.stat().st_size > 0
        read_only = exists and not _may_write(path)
        if read_only and writable:
            raise HistoryReadOnlyError(read_only_message(path))
        if not exists:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise HistoryError(f"cannot create the folder for {path}: {exc.strerror}") from exc
        conn = _connect(path, read_only)
        try:
            db = sqlite_utils.Database(conn)
            _until_unlocked(lambda: _open_checks(db, path, exists, read_only, writable), path, wait)
        except sqlite3.Error as exc:
            conn.close()
            raise explain(path, exc, opening=True) from exc
        except BaseException:
            conn.close()
            raise
        return cls(db, path, read_only=read_only, lock_timeout_s=wait)

    def close(self) -> None:
        """Close every thread's connection; later calls say the history is closed."""
        with self._lock:
            self._closed = True
            for db in list(self._open_dbs):
                db.close()
            self._open_dbs = weakref.WeakSet()
            self._first = None

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
    if not path.is_file():
        raise HistoryError(f"{path} is not a regular file; pass --db with a file path")
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


def _may_write(path: Path) -> bool:
    """Whether this process may write the file and create its -wal/-shm files beside it."""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)


def _connect(path: Path, read_only: bool) -> sqlite3.Connection:
    # isolation_level=None: nothing stays in an implicit transaction holding the lock; every write
    # goes through base.write(). SQLite waits BUSY_STEP_MS per attempt; base.sql retries in Python.
    options = dict(timeout=BUSY_STEP_MS / 1000, check_same_thread=False, isolation_level=None)
    try:
        if not read_only:
            return sqlite3.connect(str(path), **options)
        uri = f"file:{quote(str(path.absolute()))}?mode=ro"
        conn = sqlite3.connect(uri, uri=True, **options)
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError:
            # A WAL file in a folder we may not write has no -shm to share: read it as a snapshot.
            conn.close()
            conn = sqlite3.connect(uri + "&immutable=1", uri=True, **options)
        return conn
    except sqlite3.Error as exc:
        raise explain(path, exc, opening=True) from exc


def _until_unlocked(step, path: Path, wait_s: float) -> None:
    """Run `step` (the open checks and migrations), retrying while another program holds the lock."""
    started = time.monotonic()
    while True:
        try:
            return step()
        except sqlite3.Error as exc:
            waited = time.monotonic() - started
            if not is_locked(exc) or waited >= wait_s:
                raise explain(path, exc, opening=True, waited_s=waited if is_locked(exc) else None) from exc
            time.sleep(min(BUSY_STEP_MS / 1000, wait_s - waited))


def _open_checks(db: sqlite_utils.Database, path: Path, existed: bool, read_only: bool, writable: bool) -> None:
    """Everything `open` verifies (reading only), then the writes it needs (when allowed)."""
    app_id = db.execute("PRAGMA application_id").fetchone()[0]
    has_tables = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0
    if app_id != APPLICATION_ID and (has_tables or app_id != 0):
        raise HistoryError(
            f"{path} is an SQLite database but not a glasslm one; glasslm leaves it untouched: "
            "pass --db with another file"
        )
    applied = _applied(db)
    known = [m.__name__ for m in MIGRATIONS]
    newer = sorted(set(applied) - set(known))
    if newer:
        raise HistoryError(
            f"{path} was written by a newer glasslm (schema {newer[-1]}); glasslm leaves it untouched: "
            "upgrade glasslm or pass --db with another file"
        )
    pending = [name for name in known if name not in applied]
    if read_only:
        return  # read what is there; an older schema is read as it is
    journal = db.execute("PRAGMA journal_mode").fetchone()[0].lower()
    if existed and (writable or pending or journal != "wal"):
        _check_health(db, path)
    _prepare(db, path, new=not has_tables)


def _applied(db: sqlite_utils.Database) -> list[str]:
    exists = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                        [MIGRATIONS_TABLE]).fetchone()
    return [r[0] for r in db.execute(f"SELECT name FROM {MIGRATIONS_TABLE}")] if exists else []


def _check_health(db: sqlite_utils.Database, path: Path) -> None:
    """Refuse a damaged file before the first write of this session (nothing has changed yet)."""
    rows = [r[0] for r in db.execute("PRAGMA quick_check(5)")]
    if rows != ["ok"]:
        first = rows[0].splitlines()[-1] if rows and rows[0] else "quick_check failed"
        raise HistoryError(
            f"{path} is corrupt (SQLite's check reports: {first}); glasslm leaves it untouched: keep a copy, "
            f"recover what SQLite can with `sqlite3 {path} .recover | sqlite3 recovered.db`, or pass --db "
            "with another file"
        )


def _prepare(db: sqlite_utils.Database, path: Path, new: bool) -> None:
    """The writes of `open`: claim a new file, WAL, foreign keys, pending migrations."""
    if new and db.execute("PRAGMA application_id").fetchone()[0] == 0:
        db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    db.execute("PRAGMA foreign_keys = ON")
    if str(path) != MEMORY and db.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
        db.execute("PRAGMA journal_mode = WAL")
    # In WAL mode NORMAL never corrupts the file and loses no commit when the process is
    # killed (only on power loss); it saves an fsync per committed item.
    db.execute("PRAGMA synchronous = NORMAL")
    _migrate(db)


def _migrate(db: sqlite_utils.Database) -> None:
    db.execute(
        f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    applied = set(_applied(db))
    for migration in MIGRATIONS:
        if migration.__name__ in applied:
            continue
        with db.atomic():
            migration(db)
            db.execute(
                f"INSERT INTO {MIGRATIONS_TABLE} (name, applied_at) VALUES (?, ?)",
                [migration.__name__, now()],
            )
