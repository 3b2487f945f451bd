"""engine/safe_write.py: atomic writes that a failure never leaves half done, and never over SQLite files."""
from __future__ import annotations

import os
import sqlite3

import pytest
import torch

from engine.safe_write import FileWriteError, check_target, make_folder, write_text, write_with
from faults import file_size_limit


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "notes.txt"  # an SQLite file whatever its name
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x)")
        conn.execute("INSERT INTO t VALUES (1)")
    conn.close()
    return path


def _entries(folder):
    return sorted(p.name for p in folder.iterdir())


def test_an_sqlite_file_is_never_written_over(tmp_path, database):
    before = database.read_bytes()
    for target in (database, tmp_path / "notes.txt-wal", tmp_path / "notes.txt-journal"):
        with pytest.raises(FileWriteError, match="SQLite database"):
            write_text(target, "export")
    link = tmp_path / "link.csv"
    link.symlink_to(database)
    with pytest.raises(FileWriteError, match="SQLite database"):
        write_text(link, "export")
    assert database.read_bytes() == before and _entries(tmp_path) == ["link.csv", "notes.txt"]


def test_the_protected_history_path_is_refused_even_before_it_exists(tmp_path):
    history = tmp_path / "history.db"
    for target in (history, tmp_path / "history.db-wal", tmp_path / "history.db-shm"):
        with pytest.raises(FileWriteError, match="history database"):
            write_text(target, "x", protect=[history])
    assert _entries(tmp_path) == []


@pytest.mark.parametrize("target, message", [("", "empty"), (".", "is a folder")])
def test_empty_paths_and_folders_are_refused(tmp_path, monkeypatch, target, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileWriteError, match=message):
        write_text(target, "x")
    with pytest.raises(FileWriteError, match="empty"):
        make_folder("")
    (tmp_path / "file").write_text("keep")
    with pytest.raises(FileWriteError, match="is a file, not a folder"):
        make_folder(tmp_path / "file", "output folder")


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    old = tmp_path / "results.csv"
    old.write_text("old results\n")
    new = tmp_path / "new.csv"
    errors = []
    with file_size_limit(64):  # the kernel refuses every byte past 64, as a full disk would
        for target in (old, new):
            try:
                write_text(target, "x" * 10_000)
            except FileWriteError as err:
                errors.append(str(err))
    assert len(errors) == 2
    assert "the old file is unchanged" in errors[0] and "nothing was written there" in errors[1]
    assert old.read_text() == "old results\n" and _entries(tmp_path) == ["results.csv"]


def test_a_library_writer_failing_is_one_error_and_leaves_nothing(tmp_path):
    error = None
    with file_size_limit(256):
        try:
            write_with(tmp_path / "state.pt", lambda tmp: torch.save({"x": torch.zeros(10_000)}, tmp))
        except FileWriteError as err:
            error = err
    assert error is not None and "check that the disk has space" in str(error)
    assert _entries(tmp_path) == []


def test_success_replaces_keeps_permissions_and_writes_special_files_in_place(tmp_path):
    target = tmp_path / "out.jsonl"
    target.write_text("old")
    os.chmod(target, 0o640)
    write_text(target, "new")
    assert target.read_text() == "new" and (target.stat().st_mode & 0o777) == 0o640
    fresh = tmp_path / "fresh.jsonl"
    write_text(fresh, "a")
    umask = os.umask(0)
    os.umask(umask)
    assert (fresh.stat().st_mode & 0o777) == 0o666 & ~umask
    write_text(os.devnull, "discarded")  # not replaced by a regular file
    assert os.path.exists(os.devnull) and not os.path.isfile(os.devnull)
    assert check_target(tmp_path / "x" / ".." / "y.csv") == tmp_path / "y.csv"
    assert _entries(tmp_path) == ["fresh.jsonl", "out.jsonl"]
