"""`ENGINE_THREAD`: the one thread that runs all of the app's model work: loading, generation steps,
eval batches, attention maps and Inside jobs, whichever worker asks.

Why one: torch's CPU kernels run on OpenMP (libgomp), which gives each calling thread its own team
of threads and, once it manages more threads than there are CPUs, stops spinning between parallel
regions. Engine work from two threads (the chat worker and an eval run's thread) then leaves every
op waiting for a sleeping thread: measured 3.5x slower per op and a reply at 22 instead of 39 tok/s
after an eval had run. Workers keep their own threads for waiting, queues and signals; they hand
each piece of model work here with `run` (blocking until it is done) or `steps` (an iterator whose
every step runs here, so two streaming replies, as on the Compare page, still interleave token by
token). Who may use a model when is the model's `Turn` (model_pool.py); this only decides where the
work runs. No Qt here.
"""
from __future__ import annotations

import queue
import threading
from typing import Any, Callable, Iterable, Iterator


class EngineThread:
    """A single daemon thread running submitted callables one at a time, in order."""

    def __init__(self, name: str = "glasslm-engine"):
        self.name = name
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start = threading.Lock()

    def run(self, function: Callable[..., Any], *args, **kwargs) -> Any:
        """function(*args, **kwargs) on the engine thread; its result, or its exception raised here."""
        if threading.current_thread() is self._thread:  # already here (a job calling run): no hand-off
            return function(*args, **kwargs)
        self._ensure_started()
        done, outcome = threading.Event(), {}
        self._jobs.put((function, args, kwargs, done, outcome))
        done.wait()
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    def steps(self, iterable: Iterable) -> Iterator:
        """Iterate `iterable` with each next() on the engine thread."""
        iterator = iter(iterable)
        while True:
            try:
                item = self.run(next, iterator)
            except StopIteration:
                return
            yield item

    @property
    def ident(self) -> int | None:
        return self._thread.ident if self._thread is not None else None

    def _ensure_started(self):
        with self._start:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
                self._thread.start()

    def _loop(self):
        while True:
            function, args, kwargs, done, outcome = self._jobs.get()
            try:
                outcome["value"] = function(*args, **kwargs)
            except BaseException as err:  # noqa: BLE001 - handed back to the caller, raised there
                outcome["error"] = err
            finally:
                done.set()


ENGINE_THREAD = EngineThread()
