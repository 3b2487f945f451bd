"""The folders a user added to the models library, kept in `library.json` in glasslm's config folder.

A JSON file rather than the app's QSettings because the command line (`glasslm models --add`)
and the app must see the same list, and the engine reads no Qt. A file that is not valid JSON is
never overwritten: adding or removing then fails with a message naming it, and listing goes on
without the added folders.
"""
from __future__ import annotations

import json
from pathlib import Path

from .errors import LibraryError
from .files import write_json_atomic
from .paths import user_config_dir

SETTINGS_VERSION = 1


def settings_path() -> Path:
    return user_config_dir() / "library.json"


def added_folders(path: Path | None = None) -> list[Path]:
    """The added folders, in the order they were added; LibraryError when the file is unreadable."""
    data = _read(path or settings_path())
    return [Path(p) for p in data.get("folders", []) if isinstance(p, str)]


def add_folder(folder: str | Path, path: Path | None = None) -> Path:
    """Add a folder (absolute, resolved); returns it. LibraryError when it is not a folder."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise LibraryError(f"{folder} is not a folder; give a folder that holds model folders or .gguf files")
    folder = folder.resolve()
    path = path or settings_path()
    data = _read(path)
    folders = [p for p in data.get("folders", []) if isinstance(p, str)]
    if str(folder) not in folders:
        folders.append(str(folder))
    _write(path, {**data, "folders": folders})
    return folder


def remove_folder(folder: str | Path, path: Path | None = None) -> Path:
    """Remove an added folder (matched as given, or resolved); LibraryError when it was not added."""
    path = path or settings_path()
    data = _read(path)
    folders = [p for p in data.get("folders", []) if isinstance(p, str)]
    given = Path(folder).expanduser()
    candidates = {str(given), str(given.absolute())}
    try:
        candidates.add(str(given.resolve()))
    except OSError:
        pass
    kept = [p for p in folders if p not in candidates]
    if len(kept) == len(folders):
        listed = ", ".join(folders) if folders else "none"
        raise LibraryError(f"{folder} is not one of the added folders (added: {listed})")
    _write(path, {**data, "folders": kept})
    return given


def _read(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {"version": SETTINGS_VERSION, "folders": []}
    except OSError as err:
        raise LibraryError(f"cannot read {path} ({err.strerror}); check its permissions") from None
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise LibraryError(f"{path} is not valid JSON; fix it or delete it (it only lists the folders you added)") from None
    if not isinstance(data, dict):
        raise LibraryError(f"{path} is not a glasslm library settings file; fix it or delete it")
    return data


def _write(path: Path, data: dict) -> None:
    try:
        write_json_atomic(path, {**data, "version": SETTINGS_VERSION})
    except OSError as err:
        raise LibraryError(f"cannot write {path} ({err.strerror}); check that its folder is writable") from None
