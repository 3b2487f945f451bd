"""Eval runs and their per-item results in the history database.

A mixin of `History` (see `store.py`). A run row is created before the first item is scored
and its status moves running -> finished | interrupted | failed. Each result row is one
(item, variant) and is committed as soon as its item completes, so a killed process loses
at most the items in flight; `(run_id, item_id, variant)` is unique, which makes re-writing
a result on resume idempotent. This module stores what the runner hands it; it computes
no metrics.
"""

from __future__ import annotations

from typing import Any, Iterable

from .errors import HistoryError
from .base import Tables, from_json, now, sql, to_json, write

RUN_STATUSES = ("running", "finished", "interrupted", "failed")
RUN_FIELDS = ("suite_id", "suite_version", "suite_hash", "suite_title", "suite_path", "model_id",
              "model_path", "settings_id", "settings", "seed", "item_limit", "n_items", "status",
              "error", "pid", "machine", "metrics", "started_at", "ended_at", "n_truncated")
RESULT_FIELDS = ("item_id", "variant", "kind", "part", "category", "prompt", "output", "expected",
                 "correct", "score", "scores", "choice_logprobs", "latency_s")
JSON_FIELDS = {"settings", "machine", "metrics", "scores", "choice_logprobs"}


def _columns(values: dict, allowed: Iterable[str]) -> dict:
    out = {}
    for key, value in values.items():
        if key not in allowed:
            raise TypeError(f"unknown field {key!r}")
        if key in JSON_FIELDS:
            out[f"{key}_json"] = to_json(value)
        elif key == "correct" and value is not None:
            out[key] = int(bool(value))
        else:
            out[key] = value
    return out


def _decode(row: dict) -> dict:
    for key in list(row):
        if key.endswith("_json"):
            row[key[: -len("_json")]] = from_json(row.pop(key))
    if "correct" in row and row["correct"] is not None:
        row["correct"] = bool(row["correct"])
    return row


class RunStore(Tables):
    """Mixed into History; `self.db` is an open sqlite_utils.Database."""

    @sql
    def create_run(self, **fields: Any) -> int:
        """Insert a run (status defaults to 'running'); fields are RUN_FIELDS. Returns its id."""
        fields.setdefault("status", "running")
        fields.setdefault("started_at", now())
        fields.setdefault("settings", {})
        fields.setdefault("machine", {})
        fields.setdefault("n_truncated", 0)
        row = _columns(fields, RUN_FIELDS)
        with write(self):
            return self.db.execute(
                f"INSERT INTO eval_runs ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})",
                list(row.values())).lastrowid

    @sql
    def update_run(self, run_id: int, **fields: Any) -> None:
        """Set some RUN_FIELDS of a run (e.g. status='finished', ended_at=..., metrics=...)."""
        if "status" in fields and fields["status"] not in RUN_STATUSES:
            raise ValueError(f"bad run status {fields['status']!r}")
        row = _columns(fields, RUN_FIELDS)
        with write(self):
            cur = self.db.execute(
                f"UPDATE eval_runs SET {', '.join(f'{k} = ?' for k in row)} WHERE id = ?",
                [*row.values(), run_id])
            if cur.rowcount == 0:
                raise HistoryError(f"no eval run {run_id} in {self.path}; list them with `glasslm eval runs`")

    def try_update_run(self, run_id: int, wait_s: float = 2.0, **fields: Any) -> bool:
        """`update_run`, waiting at most `wait_s` for a lock; False (nothing written) when it cannot."""
        saved, self.lock_timeout = self.lock_timeout, min(self.lock_timeout, wait_s)
        try:
            self.update_run(run_id, **fields)
            return True
        except HistoryError:
            return False
        finally:
            self.lock_timeout = saved

    @sql
    def add_results(self, run_id: int, results: list[dict], truncated: int = 0) -> None:
        """Commit the results of one or more completed items in one transaction.

        `truncated`: how many of these items were longer than the context window (scored
        left-truncated); added to the run's n_truncated in the same transaction, so a resumed
        run counts each item once.
        """
        stamp = now()
        with write(self):
            if truncated:
                self.db.execute("UPDATE eval_runs SET n_truncated = coalesce(n_truncated, 0) + ? WHERE id = ?",
                                [truncated, run_id])
            for result in results:
                row = _columns({"variant": "", **result}, RESULT_FIELDS)
                row.update(run_id=run_id, created_at=stamp)
                cols = ", ".join(row)
                updates = ", ".join(f"{k} = excluded.{k}" for k in row if k not in ("run_id", "item_id", "variant"))
                self.db.execute(
                    f"INSERT INTO eval_results ({cols}) VALUES ({', '.join('?' for _ in row)}) "
                    f"ON CONFLICT (run_id, item_id, variant) DO UPDATE SET {updates}",
                    list(row.values()))

    @sql
    def run(self, run_id: int) -> dict:
        """One run with decoded settings/machine/metrics and n_results; HistoryError if unknown."""
        row = self._one(
            "SELECT r.*, (SELECT count(DISTINCT item_id) FROM eval_results e WHERE e.run_id = r.id) AS n_done, "
            "(SELECT count(*) FROM eval_results e WHERE e.run_id = r.id) AS n_results "
            "FROM eval_runs r WHERE r.id = ?", [run_id])
        if row is None:
            raise HistoryError(f"no eval run {run_id} in {self.path}; list them with `glasslm eval runs`")
        return _decode(row)

    @sql
    def runs(self, limit: int = 100, suite_id: str | None = None, status: str | None = None) -> list[dict]:
        """Newest first, same keys as `run`."""
        where, args = [], []
        if suite_id is not None:
            where.append("r.suite_id = ?")
            args.append(suite_id)
        if status is not None:
            where.append("r.status = ?")
            args.append(status)
        clause = f"WHERE {' AND '.join(where)}" if where else ""
        rows = self._all(
            "SELECT r.*, (SELECT count(DISTINCT item_id) FROM eval_results e WHERE e.run_id = r.id) AS n_done, "
            "(SELECT count(*) FROM eval_results e WHERE e.run_id = r.id) AS n_results "
            f"FROM eval_runs r {clause} ORDER BY r.id DESC LIMIT ?", [*args, limit])
        return [_decode(r) for r in rows]

    @sql
    def latest_run_id(self) -> int:
        row = self.db.execute("SELECT max(id) FROM eval_runs").fetchone()
        if row[0] is None:
            raise HistoryError(f"there are no eval runs in {self.path} yet; start one with `glasslm eval run`")
        return row[0]

    @sql
    def results(self, run_id: int) -> list[dict]:
        """Every result of a run in commit order, JSON columns decoded."""
        rows = self._all("SELECT * FROM eval_results WHERE run_id = ? ORDER BY id", [run_id])
        return [_decode(r) for r in rows]

    @sql
    def done_item_ids(self, run_id: int) -> set[str]:
        return {r[0] for r in self.db.execute(
            "SELECT DISTINCT item_id FROM eval_results WHERE run_id = ?", [run_id])}

    @sql
    def delete_run(self, run_id: int) -> None:
        with write(self):
            self.db.execute("DELETE FROM eval_runs WHERE id = ?", [run_id])
