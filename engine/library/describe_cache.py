"""`DescribeCache`: header facts kept between runs, keyed by path and checked by size and mtime.

One JSON file in glasslm's cache folder (`library.json`), written atomically. An entry is used
only while its file's (or folder's files') sizes and modification times are unchanged, so an
edited or re-downloaded model is read again; entries not seen in a scan are dropped when it is
saved. A missing, unreadable or foreign-version file is just an empty cache, and a cache that
cannot be written is only slower next time: neither is an error.
"""
from __future__ import annotations

import json
from pathlib import Path

from .facts import FACTS_VERSION, Facts
from .files import write_json_atomic
from .paths import user_cache_dir


def default_cache_path() -> Path:
    return user_cache_dir() / "library.json"


class DescribeCache:
    def __init__(self, path: Path | None = None):
        self.path = path or default_cache_path()
        self.entries: dict[str, dict] = {}
        self.seen: set[str] = set()
        self.dirty = False
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError, UnicodeDecodeError):
            return
        if isinstance(data, dict) and data.get("version") == FACTS_VERSION and isinstance(data.get("entries"), dict):
            self.entries = data["entries"]

    def get(self, key: str, signature: list) -> Facts | None:
        self.seen.add(key)
        entry = self.entries.get(key)
        if not isinstance(entry, dict) or entry.get("signature") != signature:
            return None
        try:
            return Facts.from_json(entry["facts"])
        except (KeyError, TypeError, ValueError):
            return None

    def put(self, key: str, signature: list, facts: Facts) -> None:
        self.seen.add(key)
        self.entries[key] = {"signature": signature, "facts": facts.to_json()}
        self.dirty = True

    def save(self) -> None:
        """Write what this scan used (dropping entries of models no longer there); silent on failure."""
        kept = {key: value for key, value in self.entries.items() if key in self.seen}
        if not self.dirty and kept.keys() == self.entries.keys():
            return
        try:
            write_json_atomic(self.path, {"version": FACTS_VERSION, "entries": kept})
        except OSError:
            return
        self.entries, self.dirty = kept, False
