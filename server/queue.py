"""Requests take turns on the one loaded model: `ModelQueue` runs jobs one at a time on a worker thread.

A `Job` wraps a function `work(job)` that runs on that thread (the only thread that touches the
model) and may `emit` events (streamed tokens) back to the event loop of the request that
submitted it. `Job.cancel()` (a client went away) skips a job still waiting, or stops a
running generation before its next token. The queue counts what waits and what ran, for
/health, and keeps the last jobs' outcomes, which tests wait on (`wait_for`). It knows nothing
about HTTP or OpenAI's formats.
"""
from __future__ import annotations

import asyncio
import collections
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

from .errors import APIError

DISCONNECT_POLL_S = 0.25  # how often a waiting request checks that its client is still there


class Cancelled(Exception):
    """The job was cancelled before it started."""


@dataclass(frozen=True)
class Outcome:
    kind: str  # chat | completion
    status: str  # finished | cancelled | failed
    stop_reasons: tuple[str, ...] = ()  # one per choice
    generated_tokens: int = 0


class Job:
    def __init__(self, kind: str, work: Callable[["Job"], Any], loop: asyncio.AbstractEventLoop):
        self.kind, self.work, self.loop = kind, work, loop
        self.events: asyncio.Queue = asyncio.Queue()
        self.cancelled = threading.Event()
        self.generation = None  # the engine Generation running now, set by work()
        self.future: Future = Future()
        self.stop_reasons: list[str] = []
        self.generated = 0

    def emit(self, event) -> None:
        """From the worker thread: hand one event to the request's event loop."""
        self.loop.call_soon_threadsafe(self.events.put_nowait, event)

    def cancel(self) -> None:
        """From any thread: skip the job if it waits, stop its generation if it runs."""
        self.cancelled.set()
        generation = self.generation
        if generation is not None:
            generation.cancel()

    def note(self, stats) -> None:
        self.stop_reasons.append(stats.stop_reason)
        self.generated += stats.generated_tokens


class ModelQueue:
    def __init__(self, max_waiting: int = 256, keep_outcomes: int = 64):
        self.max_waiting = max_waiting
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="glasslm-model")
        self._lock = threading.Condition()
        self.waiting = 0
        self.running: str | None = None  # kind of the job on the model now
        self._current: Job | None = None
        self.counts = collections.Counter()  # finished / cancelled / failed
        self.outcomes: collections.deque[Outcome] = collections.deque(maxlen=keep_outcomes)

    def submit(self, kind: str, work: Callable[[Job], Any]) -> Job:
        """Queue work for the model; APIError 429 when too many requests already wait."""
        with self._lock:
            if self.waiting >= self.max_waiting:
                raise APIError(429, f"{self.waiting} requests are already waiting for the model; retry later",
                               type_="rate_limit_error", code="queue_full", headers={"Retry-After": "1"})
            self.waiting += 1
        job = Job(kind, work, asyncio.get_running_loop())
        self._executor.submit(self._run, job)
        return job

    async def result(self, job: Job, is_disconnected: Callable[[], Any]):
        """The job's return value; cancels it (and returns None) when the client disconnects first."""
        wrapped = asyncio.wrap_future(job.future)
        while True:
            done, _ = await asyncio.wait({wrapped}, timeout=DISCONNECT_POLL_S)
            if done:
                return wrapped.result()
            if await is_disconnected():
                job.cancel()
                wrapped.add_done_callback(_retrieved)  # nobody reads the outcome now: no "never retrieved" noise
                return None

    async def next_event(self, job: Job, is_disconnected: Callable[[], Any]):
        """The job's next emitted event; None once the client has disconnected (the job is then cancelled)."""
        while True:
            try:
                return await asyncio.wait_for(job.events.get(), timeout=DISCONNECT_POLL_S)
            except TimeoutError:
                if await is_disconnected():
                    job.cancel()
                    return None

    def health(self) -> dict:
        with self._lock:
            return {"waiting": self.waiting, "running": self.running, "max_waiting": self.max_waiting,
                    "requests": dict(self.counts)}

    def wait_for(self, predicate: Callable[[list[Outcome]], bool], timeout: float) -> bool:
        """Block until predicate(outcomes so far) holds (True) or timeout seconds pass (False)."""
        with self._lock:
            return self._lock.wait_for(lambda: predicate(list(self.outcomes)), timeout)

    def close(self) -> None:
        """Skip what waits, stop what runs (before its next token), and end the worker thread."""
        with self._lock:
            current = self._current
        if current is not None:
            current.cancel()
        self._executor.shutdown(wait=True, cancel_futures=True)

    # ---- the worker thread --------------------------------------------------------------------
    def _run(self, job: Job) -> None:
        with self._lock:
            self.waiting -= 1
            self.running = job.kind
            self._current = job
        status, value, error = "failed", None, None
        try:
            if job.cancelled.is_set():
                raise Cancelled()
            value = job.work(job)
            status = "cancelled" if job.cancelled.is_set() or "cancelled" in job.stop_reasons else "finished"
        except BaseException as err:  # handed to the request, which answers with an error
            error = err
            if isinstance(err, Cancelled):
                status = "cancelled"
        # the model is free before the request hears back, so /health never shows a finished job running
        with self._lock:
            self.running = None
            self._current = None
            self.counts[status] += 1
            self.outcomes.append(Outcome(job.kind, status, tuple(job.stop_reasons), job.generated))
            self._lock.notify_all()
        if error is None:
            job.future.set_result(value)
            job.emit(("end", value))
        else:
            job.future.set_exception(error)
            job.emit(("error", error))


def _retrieved(future) -> None:
    if not future.cancelled():
        future.exception()
