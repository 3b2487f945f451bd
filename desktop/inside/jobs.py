"""`InsideJobs`: the Inside page's computations on the shared model's worker thread.

A view hands `run` a job (a function of the loaded `engine.Model`, run on the worker) and
callbacks; results come back on the GUI thread. A newer job of the same kind supersedes an
older one (its result is dropped and it is cancelled at its next progress call), so a view
never shows stale numbers. A job waiting for the shared model's turn (an eval batch on the same
model) says so through its progress callback. It knows nothing about what the jobs compute.
"""
from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import QObject

from ..model_host import ModelHost


class InsideJobs(QObject):
    def __init__(self, host: ModelHost, parent: QObject | None = None):
        super().__init__(parent)
        self.host = host
        self._latest: dict[str, int] = {}
        self._callbacks: dict[int, tuple[str, Callable, Callable, Callable | None]] = {}
        host.computed.connect(self._on_computed)
        host.failed.connect(self._on_failed)
        host.progressed.connect(self._on_progress)
        host.waiting.connect(self._on_waiting)

    def run(self, kind: str, job: Callable[[Any, Callable[[str], None]], Any], doing: str,
            on_done: Callable[[Any], None], on_error: Callable[[str], None],
            on_progress: Callable[[str], None] | None = None) -> int | None:
        """Queue job(model, progress); None (and on_error) when no model is loaded."""
        if self.host.info is None:
            what = "the model is still loading" if self.host.is_loading else "no model is loaded"
            on_error(f"{what}; load one on the Chat page first")
            return None
        previous = self._latest.get(kind)
        if previous is not None and previous in self._callbacks:
            self.host.cancel(previous)
            self._callbacks.pop(previous)
        rid = self.host.compute(job, doing)
        self._latest[kind] = rid
        self._callbacks[rid] = (kind, on_done, on_error, on_progress)
        return rid

    def busy(self, kind: str | None = None) -> bool:
        return any(k == kind or kind is None for k, *_ in self._callbacks.values())

    def _on_computed(self, rid: int, result):
        entry = self._callbacks.pop(rid, None)
        if entry is not None:
            entry[1](result)

    def _on_failed(self, rid: int, message: str):
        entry = self._callbacks.pop(rid, None)
        if entry is not None:
            entry[2](message)

    def _on_progress(self, rid: int, text: str):
        entry = self._callbacks.get(rid)
        if entry is not None and entry[3] is not None:
            entry[3](text)

    def _on_waiting(self, rid: int, holder: str):
        if holder:
            self._on_progress(rid, f"Waiting for {holder}…")
