"""The model worker: a QObject that lives on its own QThread and owns one engine `Model`.

Every call into the engine (load, chat, attention, token counts, device listing) happens
here, never on the GUI thread. Requests arrive through the queued slot `submit` as small
dataclasses and run one at a time, in arrival order; results leave through signals carrying
engine objects (lists of `Token`, `Stats`, `ModelInfo`) or one-sentence error strings.
`cancel` is the only method another thread may call directly: it just sets flags.

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

    def __init__(self, loader=None):
        super().__init__()
        self._loader = loader or engine.load  # tests pass fakes (e.g. one that raises OutOfMemoryError)
        self.model: engine.Model | None = None
        self._load_error = ""
        self._flags = _Flags()

    # ---- called from any thread ---------------------------------------------------------
    def cancel(self, rid: int):
        """Stop request `rid` before its next token (or skip it if it has not started)."""
        self._flags.cancelled.add(rid)
        running = self._flags.running
        if running is not None and running.rid == rid and running.generation is not None:
            running.generation.cancel()

    # ---- the worker thread --------------------------------------------------------------
    @Slot(object)
    def submit(self, request):
        handler = {
            LoadRequest: self._load, ChatRequest: self._chat, AttentionRequest: self._attention,
            CountRequest: self._count, DevicesRequest: self._devices, ComputeRequest: self._compute,
        }[type(request)]
        handler(request)

    def _load(self, request: LoadRequest):
        if self.model is not None:  # free the old weights first: two big models may not fit together
            self.model.close()
            self.model = None
        started = time.perf_counter()
        try:
            if remote.is_remote(request.path):  # a model on an OpenAI-compatible server (desktop/remote_dialog.py)
                model = remote.connect_path(request.path)
            else:
                model = self._loader(request.path, device=request.device, precision=request.precision)
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
        self.model, self._load_error = model, ""
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
            model = self._require_model()
            generation = model.chat(request.messages, request.sampling, truncate=request.truncate)
            running.generation = generation
            if rid in self._flags.cancelled:  # Stop arrived while the prompt was being prepared
                generation.cancel()
            batch, last_sent = [], 0.0
            for token in generation:
                batch.append(token)
                now = time.monotonic()
                if now - last_sent >= TOKEN_BATCH_S:
                    self.tokens.emit(rid, batch)
                    batch, last_sent = [], now
            if batch:
                self.tokens.emit(rid, batch)
            self.finished.emit(rid, generation.stats)
        except Exception as err:
            self.failed.emit(rid, _explain(err, "generating"))
        finally:
            self._flags.running = None
            self._flags.cancelled.discard(rid)

    def _attention(self, request: AttentionRequest):
        try:
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
        except Exception as err:
            self.failed.emit(request.rid, _explain(err, "computing attention"))

    def _count(self, request: CountRequest):
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
            result = request.job(self._require_model(), progress)
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

    def close(self):
        if self.model is not None:
            self.model.close()
            self.model = None


def _explain(err: Exception, doing: str) -> str:
    if isinstance(err, engine.EngineError):
        return str(err)
    if isinstance(err, torch.OutOfMemoryError):
        return (f"ran out of memory while {doing}; lower max tokens, start a new chat, "
                "or load the model at a smaller precision")
    return f"unexpected error while {doing}: {type(err).__name__}: {err}"
