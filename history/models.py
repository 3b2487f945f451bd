"""The models and settings rows of the history database, which conversations and eval runs both point at.

A mixin of `History` (see `store.py`). A model row is keyed by the engine's fingerprint (the
whole ModelInfo is kept as JSON); a settings row by the hash of its canonical JSON, with the
common fields copied into columns so they can be queried directly. Knows nothing about the
engine: callers pass dataclasses or dicts.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from .base import Tables, from_json, now, sql, to_json, write
from .errors import HistoryError

MODEL_COLUMNS = ("path", "model_type", "n_params", "context_length", "vocab_size",
                 "n_layers", "n_heads", "n_kv_heads")
SETTINGS_COLUMNS = ("precision", "device", "temperature", "top_k", "top_p", "min_p",
                    "repetition_penalty", "max_new_tokens", "seed", "system_prompt")


def _as_dict(value: Any) -> dict:
    text = to_json(value)
    return {} if text is None else json.loads(text)


class ModelStore(Tables):
    """Mixed into History; `self.db` is this thread's open sqlite_utils.Database."""

    @sql
    def upsert_model(self, info: Any) -> int:
        """Insert or refresh a model row keyed by its fingerprint; returns its id."""
        data = _as_dict(info)
        fingerprint = data.get("fingerprint")
        if not fingerprint:
            fingerprint = hashlib.sha256(to_json(data, sort_keys=True).encode()).hexdigest()
        stamp = now()
        row = {k: data.get(k) for k in MODEL_COLUMNS}
        if row["path"] is not None:
            row["path"] = str(row["path"])
        row.update(info_json=to_json(data), last_used_at=stamp)
        with write(self):
            existing = self.db.execute(
                "SELECT id FROM models WHERE fingerprint = ?", [fingerprint]).fetchone()
            if existing:
                sets = ", ".join(f"{k} = ?" for k in row)
                self.db.execute(f"UPDATE models SET {sets} WHERE id = ?", [*row.values(), existing[0]])
                return existing[0]
            row.update(fingerprint=fingerprint, created_at=stamp)
            cols = ", ".join(row)
            marks = ", ".join("?" for _ in row)
            return self.db.execute(f"INSERT INTO models ({cols}) VALUES ({marks})", list(row.values())).lastrowid

    @sql
    def model(self, model_id: int) -> dict:
        row = self._one("SELECT * FROM models WHERE id = ?", [model_id])
        if row is None:
            raise HistoryError(f"no model with id {model_id} in {self.path}")
        row["info"] = from_json(row.pop("info_json"))
        return row

    @sql
    def upsert_settings(self, settings: Any) -> int:
        """The id of the settings row equal to `settings` (inserted when new)."""
        data = _as_dict(settings)
        text = to_json(data, sort_keys=True)
        digest = hashlib.sha256(text.encode()).hexdigest()
        with write(self):
            existing = self.db.execute("SELECT id FROM settings WHERE hash = ?", [digest]).fetchone()
            if existing:
                return existing[0]
            row = {k: data.get(k) for k in SETTINGS_COLUMNS}
            row.update(hash=digest, settings_json=text)
            cols = ", ".join(row)
            marks = ", ".join("?" for _ in row)
            return self.db.execute(f"INSERT INTO settings ({cols}) VALUES ({marks})", list(row.values())).lastrowid
