"""Writing a file so that a failure never leaves half of it, and never over an SQLite database.

Every file glasslm writes (eval exports, imported suites, trained model folders, training
checkpoints) goes through here: the bytes go to a hidden temporary file in the target's own
folder, are flushed to disk, and only then renamed over the target, so a full disk, a killed
process or an exception leaves either the old file or none, plus no temporary file. A target
that is an SQLite database (by its header, whatever its name), one of its -wal/-shm/-journal
companions, a path the caller protects (the history database), or a folder is refused before
anything is written. Special files (/dev/null, /dev/stdout, a FIFO) are written in place, as
they cannot be replaced. Errors are `FileWriteError`s (an `EngineError`) with one sentence
saying what to do. This module does not know what it writes.
"""
from __future__ import annotations

import contextlib
import errno
import os
import secrets
import stat
from pathlib import Path
from typing import Callable, Iterable, Iterator

from .errors import EngineError

SQLITE_HEADER = b"SQLite format 3\x00"
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")
REASONS = {  # errno -> what to tell the person
    errno.ENOSPC: "the disk is full; free some space or write somewhere else",
    errno.EDQUOT: "the disk quota is used up; free some space or write somewhere else",
    errno.EFBIG: "the file is larger than this system allows; write somewhere else",
    errno.EACCES: "permission denied; choose a folder you can write to",
    errno.EPERM: "permission denied; choose a folder you can write to",
    errno.EROFS: "the file system is read-only; choose another place",
    errno.ENOENT: "its folder does not exist; create it first or choose another place",
    errno.ENOTDIR: "part of the path is a file, not a folder; check the path",
    errno.ENAMETOOLONG: "the name is too long; choose a shorter one",
}


class FileWriteError(EngineError):
    """A file cannot or must not be written (an SQLite database, a folder, a full disk...)."""


def check_target(path: str | Path, protect: Iterable[str | Path] = ()) -> Path:
    """The real path `path` would write to; FileWriteError when it must not be written.

    Refused: an empty path, a folder, an existing SQLite file, the -wal/-shm/-journal file of an
    SQLite database, and the files in `protect` (and their companions) even when absent.
    """
    if not str(path).strip():
        raise FileWriteError("the output path is empty; give a file name")
    target = Path(os.path.realpath(Path(path).expanduser()))
    for guarded in protect:
        if guarded is None or str(guarded) in ("", ":memory:"):
            continue
        real = os.path.realpath(Path(guarded).expanduser())
        if str(target) == real:
            raise FileWriteError(f"{path} is the history database; glasslm never writes over it: "
                                 "choose another file name")
        if str(target) in {real + suffix for suffix in SQLITE_COMPANIONS}:
            raise FileWriteError(f"{path} belongs to the history database {guarded}; choose another file name")
    if target.is_dir():
        raise FileWriteError(f"{path} is a folder; give a file name inside it")
    if _is_sqlite(target):
        raise FileWriteError(f"{path} is an SQLite database; glasslm never writes over one (it could be a "
                             "history of your work): choose another file name")
    for suffix in SQLITE_COMPANIONS:
        if target.name.endswith(suffix) and _is_sqlite(target.with_name(target.name[: -len(suffix)])):
            raise FileWriteError(f"{path} belongs to the SQLite database {target.name[: -len(suffix)]}; "
                                 "choose another file name")
    return target


@contextlib.contextmanager
def replacing(path: str | Path, protect: Iterable[str | Path] = ()) -> Iterator[Path]:
    """Yield a temporary path to fill; on success it becomes `path`, on any error it is removed.

        with replacing(out / "model.safetensors") as tmp:
            save_file(tensors, str(tmp))
    """
    target = check_target(path, protect)
    if target.exists() and not target.is_file():  # /dev/null, a FIFO, a terminal: cannot be replaced
        yield target
        return
    if target.exists() and not os.access(target, os.W_OK):
        raise FileWriteError(f"{path} is read-only; make it writable or choose another file name")
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, as for any new file
    except OSError as exc:
        raise _error(path, exc) from exc
    os.close(fd)
    try:
        yield tmp
        _fsync(tmp)
        if target.exists():
            os.chmod(tmp, stat.S_IMODE(target.stat().st_mode))  # keep the old file's permissions
        os.replace(tmp, target)
    except OSError as exc:
        _remove(tmp)
        raise _error(path, exc, target.exists()) from exc
    except BaseException:
        _remove(tmp)
        raise
    _fsync_folder(target.parent)


def write_bytes(path: str | Path, data: bytes, protect: Iterable[str | Path] = ()) -> Path:
    """Write `data` to `path` atomically (see the module docstring); returns the path written."""
    with replacing(path, protect) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
    return Path(path)


def write_text(path: str | Path, text: str, protect: Iterable[str | Path] = ()) -> Path:
    """`write_bytes` of `text` as UTF-8."""
    return write_bytes(path, text.encode("utf-8"), protect)


def write_with(path: str | Path, writer: Callable[[Path], object], protect: Iterable[str | Path] = ()) -> Path:
    """Let `writer(tmp_path)` write the file (torch.save, safetensors, tokenizers), then rename it."""
    with replacing(path, protect) as tmp:
        call_writer(writer, tmp, path)
    return Path(path)


def call_writer(writer: Callable[[Path], object], tmp: Path, path: str | Path) -> None:
    """Run a library's writer on `tmp` (inside `replacing`).

    Those libraries report a full disk in their own exception types; any failure of `writer`
    becomes a FileWriteError (the temporary file is removed by `replacing` either way).
    """
    try:
        writer(tmp)
    except OSError:
        raise
    except Exception as exc:  # noqa: BLE001 - e.g. safetensors' or torch's wrapped ENOSPC
        left = "the old file is unchanged" if Path(path).exists() else "nothing was written there"
        raise FileWriteError(f"cannot write {path}: the write failed ({_one_line(exc)}); check that the disk "
                             f"has space and the folder is writable ({left})") from exc


def make_folder(path: str | Path, what: str = "folder") -> Path:
    """Create `path` (and its parents) or say in one sentence why it cannot be."""
    if not str(path).strip():
        raise FileWriteError(f"the {what} path is empty; give a folder")
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise FileWriteError(f"the {what} {path} is a file, not a folder; give a folder path")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise FileWriteError(f"cannot create the {what} {path}: {describe(exc)}") from exc
    return path


def describe(exc: OSError) -> str:
    """What an OSError means for a person, and what to do."""
    return REASONS.get(exc.errno, exc.strerror or str(exc))


def _error(path: str | Path, exc: OSError, existed: bool = False) -> FileWriteError:
    left = "the old file is unchanged" if existed else "nothing was written there"
    return FileWriteError(f"cannot write {path}: {describe(exc)} ({left})")


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _is_sqlite(path: Path) -> bool:
    if not path.is_file():  # absent, a folder, or a FIFO (whose open would block)
        return False
    try:
        with open(path, "rb") as f:
            return f.read(len(SQLITE_HEADER)) == SQLITE_HEADER
    except OSError:  # absent, unreadable or special: not a database we could damage by reading
        return False


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable where the platform allows (not on Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)
