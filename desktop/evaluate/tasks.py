"""`Tasks`: run short read-only jobs (reports, comparisons, exports) off the GUI thread.

Building a partial report or a paired-bootstrap comparison takes a second on a large suite,
so views hand the function to `Tasks.submit` and get its result (or its error as one line)
back on the GUI thread through a signal. A newer job of the same `kind` supersedes an older
one, so a view never shows stale results. It knows nothing about what the jobs compute.
"""
from __future__ import annotations

import itertools
from typing import Any, Callable

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from evals.errors import USER_ERRORS


class _Relay(QObject):
    done = Signal(int, object)
    failed = Signal(int, str)


class _Job(QRunnable):
    def __init__(self, job_id: int, fn: Callable[[], Any], relay: _Relay):
        super().__init__()
        self.job_id, self.fn, self.relay = job_id, fn, relay

    def run(self):
        try:
            result = self.fn()
        except USER_ERRORS as err:
            self.relay.failed.emit(self.job_id, str(err))
        except Exception as err:  # noqa: BLE001 - any failure must reach the window, not kill the thread
            self.relay.failed.emit(self.job_id, f"{type(err).__name__}: {err}")
        else:
            self.relay.done.emit(self.job_id, result)


class Tasks(QObject):
    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)  # one at a time: they share the history connection anyway
        self.relay = _Relay()
        self.relay.done.connect(self._on_done)
        self.relay.failed.connect(self._on_failed)
        self._ids = itertools.count(1)
        self._latest: dict[str, int] = {}
        self._callbacks: dict[int, tuple[str, Callable, Callable]] = {}

    def submit(self, kind: str, fn: Callable[[], Any], on_done: Callable[[Any], None],
               on_error: Callable[[str], None]) -> int:
        job_id = next(self._ids)
        self._latest[kind] = job_id
        self._callbacks[job_id] = (kind, on_done, on_error)
        self.pool.start(_Job(job_id, fn, self.relay))
        return job_id

    def busy(self) -> bool:
        return bool(self._callbacks)

    def shutdown(self):
        self.pool.waitForDone()
        self._callbacks.clear()

    def _take(self, job_id: int):
        kind, on_done, on_error = self._callbacks.pop(job_id, (None, None, None))
        if kind is None or self._latest.get(kind) != job_id:
            return None, None
        return on_done, on_error

    def _on_done(self, job_id: int, result):
        on_done, _ = self._take(job_id)
        if on_done is not None:
            on_done(result)

    def _on_failed(self, job_id: int, message: str):
        _, on_error = self._take(job_id)
        if on_error is not None:
            on_error(message)
