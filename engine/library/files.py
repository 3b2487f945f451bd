"""Small file helpers the library shares: write JSON atomically, measure a file or folder.

`write_json_atomic` writes a sibling temporary file and renames it over the target, so a
crash or a full disk leaves the old file whole. `signature` is what tells a cached
description is still current: sizes and modification times, never contents.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def write_json_atomic(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=1, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def signature(path: Path) -> list:
    """[size, mtime_ns] of a file (through symlinks); for a folder, one [name, size, mtime_ns] per file in it."""
    if path.is_dir():
        rows = []
        for child in sorted(path.iterdir()):
            try:
                stat = child.stat()
            except OSError:  # a broken symlink: part of what changed
                rows.append([child.name, -1, -1])
                continue
            if child.is_file():
                rows.append([child.name, stat.st_size, stat.st_mtime_ns])
        return rows
    stat = path.stat()
    return [stat.st_size, stat.st_mtime_ns]


def size_on_disk(path: Path) -> int:
    """Bytes of a file, or of the files directly in a folder (through symlinks, as a loader reads them)."""
    if path.is_dir():
        total = 0
        for child in path.iterdir():
            try:
                if child.is_file():
                    total += child.stat().st_size
            except OSError:
                continue
        return total
    return path.stat().st_size
