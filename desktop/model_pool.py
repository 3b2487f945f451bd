"""`ModelPool`: one loaded engine `Model` per (resolved path, precision, device) for the whole app,
and `Turn`, the rule for who runs on a shared model when.

`acquire` returns a `Lease` on the shared model (loading it the first time, with the pool's
`load`, normally `engine.load`); the lease's `release` drops one reference and the last one
closes the model. Two threads asking for the same key at once wait for one load. A model is
also found under what it actually loaded as (its `ModelInfo` path, precision and device), so an
"auto" chat model serves an eval that names fp32 on the CPU.

Scoring calls on an engine `Model` are safe from two threads (it locks each forward step), two
generations are not (a second prefill makes the first one stale), so every user holds the
model's `Turn` while it runs: a chat reply for its whole run, an eval run per backend call.
The turn is first come, first served, so an eval that releases and asks again goes behind a
waiting chat reply. Remote models are not pooled. Nothing here knows about Qt.
"""
from __future__ import annotations

import threading
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import engine

from .engine_thread import ENGINE_THREAD


@dataclass(frozen=True)
class ModelKey:
    path: str  # resolved, absolute
    precision: str  # as asked ("auto" too: what it means depends on the checkpoint), lower case
    device: str  # "cpu" or "cuda:N" ("auto" and "cuda" resolved); anything else as given

    @classmethod
    def of(cls, path, precision: str = "auto", device: str = "auto") -> "ModelKey":
        location = Path(path).expanduser() if path is not None and str(path) != "" else engine.default_model_path()
        return cls(str(location.resolve()), _norm(precision), _device(_norm(device)))


def _norm(value) -> str:
    return str(value or "auto").strip().lower()


def _device(device: str) -> str:
    """auto: the first GPU engine.available_devices lists, else the CPU (as engine.load picks)."""
    if device == "cuda":
        return "cuda:0"
    if device != "auto":
        return device
    try:
        return next((d.name for d in engine.available_devices() if d.name.startswith("cuda")), "cpu")
    except Exception:  # a broken driver: engine.load will say what is wrong
        return device


class GaveUp(Exception):
    """A caller waiting for the turn gave up (its `give_up()` said so) before the turn came."""


class Turn:
    """Whose turn it is on one model: first come, first served, re-entrant for the thread holding it."""

    def __init__(self):
        self._cond = threading.Condition()
        self._holder: int | None = None  # thread id
        self._depth = 0
        self._label = ""  # what the holder is, as a waiter is told ("the chat reply")
        self._queue: deque[object] = deque()

    @property
    def holder(self) -> str:
        """What holds the turn now ('' when free)."""
        with self._cond:
            return self._label if self._holder is not None else ""

    @contextmanager
    def hold(self, label: str, on_wait: Callable[[str], None] | None = None,
             on_start: Callable[[], None] | None = None, give_up: Callable[[], bool] | None = None):
        """Hold the turn for the block. label: what this holder is, for others' notices. on_wait(holder) is
        called (on this thread) when the turn is taken, on_start() once this caller has it after waiting;
        give_up() is asked again at each `wake()` while waiting, and True raises GaveUp."""
        self.acquire(label, on_wait, on_start, give_up)
        try:
            yield
        finally:
            self.release()

    def wake(self):
        """Make waiters ask their give_up() again (a Stop pressed while a reply waits)."""
        with self._cond:
            self._cond.notify_all()

    def acquire(self, label: str, on_wait=None, on_start=None, give_up=None) -> bool:
        """Take the turn, waiting behind its holder and earlier waiters; True when it had to wait."""
        me = threading.get_ident()
        with self._cond:
            if self._holder == me:
                self._depth += 1
                return False
            if self._holder is None and not self._queue:
                self._take(me, label)
                return False
            ticket = object()
            self._queue.append(ticket)
            busy_with = self._label
        if on_wait is not None:
            on_wait(busy_with)  # outside the lock: it may emit a Qt signal
        with self._cond:
            while self._holder is not None or self._queue[0] is not ticket:
                if give_up is not None and give_up():
                    self._queue.remove(ticket)
                    self._cond.notify_all()  # the next in line may be first now
                    raise GaveUp()
                self._cond.wait()
            self._queue.popleft()
            self._take(me, label)
        if on_start is not None:
            on_start()
        return True

    def release(self):
        with self._cond:
            assert self._holder == threading.get_ident(), "the turn is released by the thread that holds it"
            self._depth -= 1
            if self._depth == 0:
                self._holder, self._label = None, ""
                self._cond.notify_all()

    def _take(self, me: int, label: str):
        self._holder, self._depth, self._label = me, 1, label


@dataclass(eq=False)
class _Entry:
    keys: set[ModelKey]
    model: Any = None
    error: BaseException | None = None
    ready: bool = False
    users: int = 0
    turn: Turn = field(default_factory=Turn)


class Lease:
    """One user's hold on a model: `.model`, its `.turn`, and `release()` (idempotent)."""

    def __init__(self, model, turn: Turn, release: Callable[[], None]):
        self.model, self.turn, self._release = model, turn, release
        self._released = False

    def release(self):
        if not self._released:
            self._released = True
            self._release()


def unshared(model) -> Lease:
    """A lease on a model that is not pooled (a remote one): its own turn; release closes it."""
    return Lease(model, Turn(), model.close)


class ModelPool:
    def __init__(self, load: Callable[..., Any] | None = None):
        """load(path, device=, precision=) -> engine.Model; engine.load by default (tests wrap it)."""
        self.load = load or engine.load
        self._lock = threading.Condition()
        self._entries: dict[ModelKey, _Entry] = {}

    def acquire(self, path, device: str = "auto", precision: str = "auto") -> Lease:
        """The shared model for (path, precision, device), loaded when nobody has it; the load's error
        reaches every caller that waited for it."""
        key = ModelKey.of(path, precision, device)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = _Entry({key})
                loading = True
            else:
                loading = False
            entry.users += 1
        if loading:
            try:
                # loading runs on the engine thread, like all model work (see engine_thread.py)
                model = ENGINE_THREAD.run(self.load, path, device=device, precision=precision)
            except BaseException as err:
                with self._lock:
                    entry.error, entry.ready = err, True
                    self._forget(entry)
                    self._lock.notify_all()
                raise
            with self._lock:
                entry.model, entry.ready = model, True
                self._alias(entry, model)
                self._lock.notify_all()
        else:
            with self._lock:
                while not entry.ready:
                    self._lock.wait()
                if entry.error is not None:
                    entry.users -= 1
                    raise entry.error
        return Lease(entry.model, entry.turn, lambda: self._release(entry))

    def __len__(self) -> int:
        """How many models are loaded (or loading) now."""
        with self._lock:
            return len({id(e) for e in self._entries.values()})

    def users(self, model) -> int:
        """How many leases hold this model now."""
        with self._lock:
            return next((e.users for e in self._entries.values() if e.model is model), 0)

    def users_of(self, path, device: str = "auto", precision: str = "auto") -> int:
        """How many callers hold or wait for the model under this key (0 when none)."""
        with self._lock:
            entry = self._entries.get(ModelKey.of(path, precision, device))
            return entry.users if entry is not None else 0

    def _alias(self, entry: _Entry, model):
        info = getattr(model, "info", None)
        if info is None or not getattr(info, "path", None):
            return
        try:
            alias = ModelKey.of(info.path, info.precision, info.device)
        except (OSError, TypeError, AttributeError):
            return
        if alias not in self._entries:
            self._entries[alias] = entry
            entry.keys.add(alias)

    def _forget(self, entry: _Entry):
        for key in entry.keys:
            if self._entries.get(key) is entry:
                del self._entries[key]

    def _release(self, entry: _Entry):
        with self._lock:
            entry.users -= 1
            if entry.users > 0:
                return
            self._forget(entry)
        entry.model.close()  # outside the lock: freeing a big model takes a moment
