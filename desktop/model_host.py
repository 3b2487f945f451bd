"""`ModelHost`: the GUI thread's handle on one `ModelWorker` running on its own QThread.

Widgets talk to a host, never to the engine: `load`, `chat`, `attention`, `count` and `compute` queue a
request on the worker and return at once (with a request id where results come back), and
the worker's signals are re-emitted here. `cancel` sets the worker's flag directly (safe
from any thread). The host remembers what it has loaded so pages can pick a host that has
their model; the model itself comes from the app's `ModelPool`, so hosts (and the Evaluate
page) asking for the same model share one copy. The thread plumbing is `WorkerHost`'s.
It does no model work itself.
"""
from __future__ import annotations

import itertools

from PySide6.QtCore import QObject, Signal

import engine

from .model_pool import ModelPool
from .model_worker import (
    AttentionRequest, ChatRequest, ComputeRequest, CountRequest, DevicesRequest, Loaded, LoadRequest, ModelWorker,
)
from .worker_host import WorkerHost

_request_ids = itertools.count(1)  # unique across hosts so a stray result is never mistaken for another's


class ModelHost(WorkerHost):
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
    waiting = Signal(int, str)  # request id, what holds the shared model ("" once the request has it)

    def __init__(self, pool: ModelPool | None = None, name: str = "model", parent: QObject | None = None,
                 label: str = "the chat reply"):
        """pool: where models come from (a private one when None). label: what this host's work is called
        in another user's "waiting for ..." notice."""
        worker = ModelWorker(pool if pool is not None else ModelPool(), label)
        super().__init__(worker, worker.submit, name, parent)
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
        self.forward("loaded", "load_failed", "tokens", "finished", "failed", "attention_ready", "counted",
                     "devices", "computed", "progressed", "waiting")
        self.start()

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
        self.post(request)

    def chat(self, messages: list[dict], sampling: engine.Sampling, truncate: bool = False) -> int:
        rid = next(_request_ids)
        self._open.add(rid)
        self.post(ChatRequest(rid, list(messages), sampling, truncate))
        return rid

    def attention(self, before: list[dict], message: dict, reply_ids=()) -> int:
        rid = next(_request_ids)
        self.post(AttentionRequest(rid, list(before), dict(message), tuple(reply_ids)))
        return rid

    def count(self, messages: list[dict]) -> int:
        rid = next(_request_ids)
        self.post(CountRequest(rid, list(messages)))
        return rid

    def compute(self, job, doing: str) -> int:
        """Run job(model, progress) on the worker thread, after what is queued before it; the result
        arrives as computed(rid, result), an error as failed(rid, message). Cancel stops it at its next
        progress call."""
        rid = next(_request_ids)
        self._open.add(rid)
        self.post(ComputeRequest(rid, job, doing))
        return rid

    def refresh_devices(self):
        self.post(DevicesRequest())

    def cancel(self, rid: int):
        self.worker.cancel(rid)

    def cancel_all(self):
        """Stop every reply and job not yet finished (queued ones are skipped)."""
        for rid in list(self._open):
            self.worker.cancel(rid)

    # shutdown (WorkerHost) waits at most for the current token or load; results the worker sent
    # before it stopped are delivered, so a stopped reply is still saved; then the model is released.
    def stop_work(self):
        self.cancel_all()

    def after_stop(self):
        self.worker.close()

    # ---- bookkeeping --------------------------------------------------------------------------
    def _on_loaded(self, result: Loaded):
        if result.request == self.requested:
            self.current = result

    def _on_load_failed(self, message: str):
        self._load_error = message

    def _forget(self, rid: int, _payload):
        self._open.discard(rid)
