"""The model worker: a QObject that lives on its own QThread and uses one engine `Model`.

Every call into the engine (load, chat, attention, token counts, device listing) happens
here, never on the GUI thread. Requests arrive through the queued slot `submit` as small
dataclasses and run one at a time, in arrival order; results leave through signals carrying
engine objects (lists of `Token`, `Stats`, `ModelInfo`) or one-sentence error strings.
`cancel` is the only method another thread may call directly: it just sets flags.

The model is leased from the app's `ModelPool` (other workers and the Evaluate page may use
the same one), so each job that runs the model (a reply, attention, a computation) holds the
model's turn for its whole run; while it waits for the turn, `waiting(rid, holder)` says for
what, and `waiting(rid, "")` says it has started.

It draws nothing and knows nothing about conversations or the history database.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
from PySide6.QtCore import QObject, Signal, Slot

import engine
from engine import remote

from .engine_thread import ENGINE_THREAD
from .model_pool import GaveUp, Lease, ModelPool, unshared

TOKEN_BATCH_S = 0.03  # tokens are sent to the GUI at most ~30 times a second, the first at once
ATTENTION_MAX_TOKENS = 256  # attention maps cover at most this many (trailing) tokens


@dataclass(frozen=True)
class LoadRequest:
    path: str
    device: str = "auto"
    precision: str = "auto"


@dataclass(frozen=True)
class ChatRequest:
    rid: int
    messages: list[dict]  # role/content dicts, system prompt first when there is one
    sampling: engine.Sampling
    truncate: bool = False  # leave out the oldest turns when the conversation outgrows the context


@dataclass(frozen=True)
class AttentionRequest:
    rid: int
    before: list[dict]  # the messages before the one to inspect (system prompt included)
    message: dict  # the message to inspect (role/content)
    reply_ids: tuple[int, ...] = ()  # an assistant reply's generated ids, when known (exactly what the model saw)


@dataclass(frozen=True)
class CountRequest:
    rid: int
    messages: list[dict]


@dataclass(frozen=True)
class DevicesRequest:
    pass


@dataclass(frozen=True)
class ComputeRequest:
    rid: int
    job: Callable[[engine.Model, Callable[[str], None]], Any]  # job(model, progress) on the worker thread
    doing: str  # what it computes, for error messages ("computing the logit lens")


@dataclass(frozen=True)
class Loaded:
    request: LoadRequest
    info: engine.ModelInfo
    memory: dict
    seconds: float
    defaults: dict = field(default_factory=dict)  # the checkpoint's suggested sampling (generation_config.json)


@dataclass(frozen=True)
class AttentionMap:
    weights: np.ndarray  # (layers, heads, T, T) float32, rows = querying token, columns = attended token
    tokens: list[str]  # the text of each of the T tokens
    span: tuple[int, int]  # [start, end) of the inspected message's tokens within the T
    dropped: int = 0  # tokens cut from the start to stay within ATTENTION_MAX_TOKENS


@dataclass
class _Running:
    rid: int
    generation: engine.Generation | None = None


@dataclass
class _Flags:
    cancelled: set[int] = field(default_factory=set)
    running: _Running | None = None


class ModelWorker(QObject):
    loaded = Signal(object)  # Loaded
    load_failed = Signal(str)
    tokens = Signal(int, object)  # request id, list[engine.Token]
    finished = Signal(int, object)  # request id, engine.Stats
    failed = Signal(int, str)  # request id, one-sentence message
    attention_ready = Signal(int, object)  # request id, AttentionMap
    counted = Signal(int, int)  # request id, number of tokens
    devices = Signal(object)  # list[engine.DeviceInfo]
    computed = Signal(int, object)  # request id, what a ComputeRequest's job returned
    progressed = Signal(int, str)  # request id, a line on a running job's progress
    waiting = Signal(int, str)  # request id, what holds the model's turn ("" once the request has it)

    def __init__(self, pool: ModelPool, label: str = "the chat reply"):
        """label: what this worker's jobs are, for the notice of another user waiting for the model."""
        super().__init__()
        self.pool, self.label = pool, label  # the pool's load is engine.load (tests pass fakes)
        self.lease: Lease | None = None
        self._load_error = ""
        self._flags = _Flags()

    @property
    def model(self) -> engine.Model | None:
        return self.lease.model if self.lease is not None else None

    # ---- called from any thread ---------------------------------------------------------
    def cancel(self, rid: int):
        """Stop request `rid` before its next token (or skip it if it has not started)."""
        self._flags.cancelled.add(rid)
        running = self._flags.running
        if running is not None and running.rid == rid and running.generation is not None:
            running.generation.cancel()
        lease = self.lease
        if lease is not None:  # a request waiting for the model's turn stops waiting
            lease.turn.wake()

    # ---- the worker thread --------------------------------------------------------------
    @Slot(object)
    def submit(self, request):
        handler = {
            LoadRequest: self._load, ChatRequest: self._chat, AttentionRequest: self._attention,
            CountRequest: self._count, DevicesRequest: self._devices, ComputeRequest: self._compute,
        }[type(request)]
        handler(request)

    def _load(self, request: LoadRequest):
        self.close()  # free the old weights first (unless shared): two big models may not fit together
        started = time.perf_counter()
        try:
            if remote.is_remote(request.path):  # a model on an OpenAI-compatible server (desktop/remote_dialog.py)
                lease = unshared(remote.connect_path(request.path))
            else:
                lease = self.pool.acquire(request.path, device=request.device, precision=request.precision)
        except engine.EngineError as err:
            self._load_error = str(err)
            self.load_failed.emit(self._load_error)
            return
        except torch.OutOfMemoryError:
            self._load_error = (f"{request.path} did not fit in {request.device} memory; "
                                "choose a smaller precision or another device")
            self.load_failed.emit(self._load_error)
            return
        except Exception as err:  # a broken folder can fail in ways the engine does not name; keep the app alive
            self._load_error = f"could not load {request.path}: {err}"
            self.load_failed.emit(self._load_error)
            return
        self.lease, self._load_error = lease, ""
        model = lease.model
        defaults = model.default_sampling().to_dict()
        self.loaded.emit(Loaded(request, model.info, model.memory(), time.perf_counter() - started, defaults))
        self._devices(DevicesRequest())  # free memory changed

    def _chat(self, request: ChatRequest):
        rid = request.rid
        if rid in self._flags.cancelled:
            self._flags.cancelled.discard(rid)
            self.finished.emit(rid, engine.Stats(stop_reason="cancelled"))
            return
        running = _Running(rid)
        self._flags.running = running
        try:
            with self._turn(rid):
                generation = ENGINE_THREAD.run(self._require_model().chat, request.messages, request.sampling,
                                               truncate=request.truncate)
                running.generation = generation
                if rid in self._flags.cancelled:  # Stop arrived while the prompt was being prepared
                    generation.cancel()
                batch, last_sent = [], 0.0
                for token in ENGINE_THREAD.steps(generation):  # each step on the one engine thread
                    batch.append(token)
                    now = time.monotonic()
                    if now - last_sent >= TOKEN_BATCH_S:
                        self.tokens.emit(rid, batch)
                        batch, last_sent = [], now
                if batch:
                    self.tokens.emit(rid, batch)
                self.finished.emit(rid, generation.stats)
        except GaveUp:  # stopped while it waited for the turn
            self.finished.emit(rid, engine.Stats(stop_reason="cancelled"))
        except Exception as err:
            self.failed.emit(rid, _explain(err, "generating"))
        finally:
            self._flags.running = None
            self._flags.cancelled.discard(rid)

    def _attention(self, request: AttentionRequest):
        try:
            with self._turn(request.rid):
                ENGINE_THREAD.run(self._attention_map, request)
        except Exception as err:
            self.failed.emit(request.rid, _explain(err, "computing attention"))

    def _attention_map(self, request: AttentionRequest):
        model = self._require_model()
        if getattr(model, "is_remote", False):
            model.attention([])  # raises: why a remote model has no attention maps
        if request.reply_ids:
            prefix = model.chat_ids(request.before, add_generation_prompt=True)
            ids = prefix + list(request.reply_ids)
        else:
            prefix = model.chat_ids(request.before, add_generation_prompt=False) if request.before else []
            ids = model.chat_ids(request.before + [request.message], add_generation_prompt=False)
        start = min(len(prefix), len(ids))
        dropped = max(0, len(ids) - ATTENTION_MAX_TOKENS)
        ids = ids[dropped:]
        weights = model.attention(ids).numpy().astype(np.float32)  # (L, H, T, T)
        texts = [model.tokenizer.decode([i]) for i in ids]
        span = (max(0, start - dropped), len(ids))
        self.attention_ready.emit(request.rid, AttentionMap(weights, texts, span, dropped))

    def _count(self, request: CountRequest):
        # Only the tokenizer runs here, never a forward step: no need to wait for the model's turn.
        try:
            model = self._require_model()
            self.counted.emit(request.rid, len(model.chat_ids(request.messages, add_generation_prompt=True)))
        except Exception as err:
            self.failed.emit(request.rid, _explain(err, "counting tokens"))

    def _compute(self, request: ComputeRequest):
        """Run one job on the loaded model (the Inside page's computations, "Check this answer").
        Its progress(text) raises once the request is cancelled, so a long job stops between steps."""
        rid = request.rid

        def progress(text: str):
            if rid in self._flags.cancelled:
                raise engine.EngineError("cancelled")
            self.progressed.emit(rid, text)

        try:
            if rid in self._flags.cancelled:
                raise engine.EngineError("cancelled")
            model = self._require_model()
            try:
                with self._turn(rid):
                    result = ENGINE_THREAD.run(request.job, model, progress)
            except GaveUp:
                raise engine.EngineError("cancelled") from None
            self.computed.emit(rid, result)
        except Exception as err:
            self.failed.emit(rid, _explain(err, request.doing))
        finally:
            self._flags.cancelled.discard(rid)

    def _devices(self, _request: DevicesRequest):
        try:
            self.devices.emit(engine.available_devices())
        except Exception:  # a broken CUDA driver must not take the app down; the CPU is always there
            self.devices.emit([engine.DeviceInfo("cpu", "CPU")])

    def _require_model(self) -> engine.Model:
        if self.model is None:
            reason = f" (the last load failed: {self._load_error})" if self._load_error else ""
            raise engine.EngineError(f"no model is loaded{reason}; load a model first")
        return self.model

    def _turn(self, rid: int):
        """Hold the model's turn for a job; says so (waiting) when another user has it."""
        if self.lease is None:
            self._require_model()  # raises: no model
        return self.lease.turn.hold(self.label, on_wait=lambda holder: self.waiting.emit(rid, holder),
                                    on_start=lambda: self.waiting.emit(rid, ""),
                                    give_up=lambda: rid in self._flags.cancelled)

    def close(self):
        """Give the model back to the pool (the last user's release closes it)."""
        if self.lease is not None:
            lease, self.lease = self.lease, None
            lease.release()


def _explain(err: Exception, doing: str) -> str:
    if isinstance(err, engine.EngineError):
        return str(err)
    if isinstance(err, torch.OutOfMemoryError):
        return (f"ran out of memory while {doing}; lower max tokens, start a new chat, "
                "or load the model at a smaller precision")
    return f"unexpected error while {doing}: {type(err).__name__}: {err}"
