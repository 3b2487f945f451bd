"""Finding models inside a folder tree: model folders (a config.json) and GGUF files.

Used for LM Studio's and GPT4All's model folders and the folders a user adds. It walks a few
levels deep (LM Studio keeps publisher/repo/file.gguf), never into hidden folders, never below a
model folder, and stops after a bounded number of folders so adding a home folder stays quick.
Downloads in progress are skipped: GPT4All names them `incomplete-*`, and only the first part of
a split GGUF is listed.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from .found import Found, Skipped

MAX_DEPTH = 4  # levels below the root
MAX_FOLDERS = 5000  # folders visited per root at most
SPLIT_PART = re.compile(r"-(\d{5})-of-(\d{5})\.gguf$", re.IGNORECASE)


def find_in_folder(root: Path, source: str) -> tuple[list[Found], list[Skipped]]:
    found: list[Found] = []
    skipped: list[Skipped] = []
    if not root.is_dir():
        return found, skipped
    visited = 0
    pending = [(root, 0)]
    while pending and visited < MAX_FOLDERS:
        folder, depth = pending.pop()
        visited += 1
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        model_folder = any(e.name == "config.json" and _is_file(e) for e in entries)
        if model_folder:
            found.append(Found(folder, source, _relative(root, folder), "folder"))
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if _is_dir(entry):
                # a model folder's own subfolders (onnx/, original/) are not other models
                if depth < MAX_DEPTH and not model_folder:
                    pending.append((Path(entry.path), depth + 1))
                continue
            if not entry.name.lower().endswith(".gguf") or not _is_file(entry):
                continue
            path = Path(entry.path)
            if entry.name.startswith("incomplete-"):
                skipped.append(Skipped(_relative(root, path), source, str(path), "download not finished"))
                continue
            part = SPLIT_PART.search(entry.name)
            if part and int(part.group(1)) != 1:
                continue  # listed once, as its first part
            found.append(Found(path, source, _relative(root, path), "gguf"))
    return found, skipped


def _relative(root: Path, path: Path) -> str:
    try:
        name = path.relative_to(root).as_posix()
    except ValueError:
        name = path.name
    return name if name != "." else path.name


def _is_file(entry: os.DirEntry) -> bool:
    try:
        return entry.is_file()  # follows symlinks: LM Studio and others link into the HF cache
    except OSError:
        return False


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False
