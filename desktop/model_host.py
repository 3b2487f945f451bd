"""`ModelHost`: the GUI thread's handle on one `ModelWorker` running on its own QThread.

Widgets talk to a host, never to the engine: `load`, `chat`, `attention`, `count` and `compute` queue a
request on the worker and return at once (with a request id where results come back), and
the worker's signals are re-emitted here. `cancel` sets the worker's flag directly (safe
from any thread). The host remembers what it has loaded so pages can share one model.
It does no model work itself.
"""
from __future__ import annotations

import itertools

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal

import engine

from .model_worker import (
    AttentionRequest, ChatRequest, ComputeRequest, CountRequest, DevicesRequest, Loaded, LoadRequest, ModelWorker,
)

_request_ids = itertools.count(1)  # unique across hosts so a stray result is never mistaken for another's


class ModelHost(QObject):
    loading = Signal(object)  # LoadRequest
    loaded = Signal(object)  # Loaded
    load_failed = Signal(str)
    tokens = Signal(int, object)
    finished = Signal(int, object)
    failed = Signal(int, str)
    attention_ready = Signal(int, object)
    counted = Signal(int, int)
    devices = Signal(object)
    computed = Signal(int, object)
    progressed = Signal(int, str)
    _submit = Signal(object)

    def __init__(self, loader=None, name: str = "model", parent: QObject | None = None):
        super().__init__(parent)
        self.thread = QThread()
        self.thread.setObjectName(f"glasslm-{name}")
        self.worker = ModelWorker(loader)
        self.worker.moveToThread(self.thread)
        self._submit.connect(self.worker.submit)
        self.requested: LoadRequest | None = None  # the last load asked for
        self.current: Loaded | None = None  # what is loaded now (None while loading or after a failure)
        self._load_error = ""
        self._open: set[int] = set()  # chat requests not yet finished or failed
        # bookkeeping first, so listeners of the re-emitted signals already see the new state
        self.worker.loaded.connect(self._on_loaded)
        self.worker.load_failed.connect(self._on_load_failed)
        self.worker.finished.connect(self._forget)
        self.worker.failed.connect(self._forget)
        self.worker.computed.connect(self._forget)
        for signal in ("loaded", "load_failed", "tokens", "finished", "failed", "attention_ready", "counted",
                       "devices", "computed", "progressed"):
            getattr(self.worker, signal).connect(getattr(self, signal))
        self.thread.start()

    # ---- state ------------------------------------------------------------------------------
    @property
    def info(self) -> engine.ModelInfo | None:
        return self.current.info if self.current else None

    @property
    def is_loading(self) -> bool:
        return self.requested is not None and self.current is None and not self._load_error

    def serves(self, request: LoadRequest) -> bool:
        """True when this host has (or is loading) exactly that model, device and precision."""
        return self.requested == request and not self._load_error

    # ---- requests ---------------------------------------------------------------------------
    def load(self, request: LoadRequest):
        for rid in list(self._open):  # a new model makes running replies meaningless: stop them
            self.cancel(rid)
        self.requested, self.current, self._load_error = request, None, ""
        self.loading.emit(request)
        self._submit.emit(request)

    def chat(self, messages: list[dict], sampling: engine.Sampling, truncate: bool = False) -> int:
        rid = next(_request_ids)
        self._open.add(rid)
        self._submit.emit(ChatRequest(rid, list(messages), sampling, truncate))
        return rid

    def attention(self, before: list[dict], message: dict, reply_ids=()) -> int:
        rid = next(_request_ids)
        self._submit.emit(AttentionRequest(rid, list(before), dict(message), tuple(reply_ids)))
        return rid

    def count(self, messages: list[dict]) -> int:
        rid = next(_request_ids)
        self._submit.emit(CountRequest(rid, list(messages)))
        return rid

    def compute(self, job, doing: str) -> int:
        """Run job(model, progress) on the worker thread, after what is queued before it; the result
        arrives as computed(rid, result), an error as failed(rid, message). Cancel stops it at its next
        progress call."""
        rid = next(_request_ids)
        self._open.add(rid)
        self._submit.emit(ComputeRequest(rid, job, doing))
        return rid

    def refresh_devices(self):
        self._submit.emit(DevicesRequest())

    def cancel(self, rid: int):
        self.worker.cancel(rid)

    def shutdown(self):
        """Stop running work and end the thread (waits at most for the current token or load).

        Results the worker sent before it stopped are delivered now, so a stopped reply is still
        saved; nothing arrives after this returns."""
        for rid in list(self._open):
            self.worker.cancel(rid)
        self.thread.quit()
        self.thread.wait()
        QCoreApplication.sendPostedEvents(self)
        self.worker.close()

    # ---- bookkeeping --------------------------------------------------------------------------
    def _on_loaded(self, result: Loaded):
        if result.request == self.requested:
            self.current = result

    def _on_load_failed(self, message: str):
        self._load_error = message

    def _forget(self, rid: int, _payload):
        self._open.discard(rid)
