"""`WorkerHost`: the GUI thread's handle on one worker QObject living on its own QThread.

It creates the thread, moves the worker there, wires a queued `post(request)` to the worker's
slot, and shuts down cleanly: `shutdown` lets the subclass stop running work (`stop_work`),
ends the thread, delivers the results the worker had already sent (so nothing arrives after it
returns) and then calls `after_stop`. `ModelHost` and the Evaluate page's `RunHost` are built
on it. It knows nothing about what the requests are.
"""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal


class WorkerHost(QObject):
    _submit = Signal(object)

    def __init__(self, worker: QObject, slot: Callable[[object], None], name: str, parent: QObject | None = None):
        """slot: the worker's @Slot(object) that takes each posted request (on the worker thread).
        Call `start()` once the subclass has connected the worker's signals."""
        super().__init__(parent)
        self.thread = QThread()
        self.thread.setObjectName(f"glasslm-{name}")
        self.worker = worker
        worker.moveToThread(self.thread)
        self._submit.connect(slot)
        self._stopped = False

    def forward(self, *names: str):
        """Re-emit the worker's signals of these names as this host's signals of the same names."""
        for name in names:
            getattr(self.worker, name).connect(getattr(self, name))

    def start(self):
        self.thread.start()

    def post(self, request):
        """Queue a request for the worker (handled in order, one at a time, on its thread)."""
        self._submit.emit(request)

    def shutdown(self):
        """Stop running work, end the thread and deliver what the worker already sent; idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self.stop_work()
        self.thread.quit()
        self.thread.wait()
        QCoreApplication.sendPostedEvents(self)
        self.after_stop()

    def stop_work(self):
        """Ask the worker to stop what it runs (called from the GUI thread, before the thread ends)."""

    def after_stop(self):
        """Free what the worker holds, once its thread has ended."""
