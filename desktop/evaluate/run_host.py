"""Evaluation runs on a worker thread: `EvalWorker` (a QObject living on its own QThread) and
`RunHost`, the GUI thread's handle on it.

The worker drives the same `evals.runner.Runner` as `glasslm eval run/resume`: it creates
and resumes runs, and the runner commits every item as it completes, so a stop, a crash or
an error keeps what was done. Progress (`evals.runner.Progress`) and the end of each job
(`JobEnd`) leave through signals; `RunHost.cancel` only sets an event the runner polls
between batches. When the model is shared with the chat (desktop/evaluate/shared_model.py),
`waiting` says the run waits for another user's turn, and `waiting("")` that it goes on.
The thread plumbing is `WorkerHost`'s. Nothing here draws or reads results back.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Signal, Slot

from evals.errors import USER_ERRORS
from history import History
from evals.runner import Progress, Runner, RunSpec, engine_opener

from ..worker_host import WorkerHost

PROGRESS_EVERY_S = 0.05  # at most ~20 progress updates a second reach the GUI


@dataclass(frozen=True)
class Job:
    specs: tuple[RunSpec, ...] = ()  # new runs, in order
    resume: int | None = None  # a run to finish first
    label: str = ""  # what the progress line says this job is


@dataclass(frozen=True)
class JobEnd:
    job: Job
    run_ids: tuple[int, ...]  # every run this job created or resumed, in order
    outcome: str  # "finished" | "stopped" | "failed"
    message: str = ""  # one sentence when failed
    not_started: tuple[RunSpec, ...] = field(default=())  # specs left when it stopped or failed

    @property
    def last_run(self) -> int | None:
        return self.run_ids[-1] if self.run_ids else None


class EvalWorker(QObject):
    progress = Signal(object)  # Progress
    ended = Signal(object)  # JobEnd
    waiting = Signal(str)  # what holds the shared model's turn ("" once the run has it again)

    def __init__(self, history: History, opener=engine_opener, items_per_batch: int = 8):
        super().__init__()
        self.history, self.opener, self.items_per_batch = history, opener, items_per_batch
        self.stop_event = threading.Event()
        self._last_emit = 0.0
        self._seen: list[int] = []

    @Slot(object)
    def run(self, job: Job):
        self.stop_event.clear()
        self._seen = []
        runner = Runner(self.history, opener=self.opener, items_per_batch=self.items_per_batch,
                        on_progress=self._on_progress, should_stop=self.stop_event.is_set)
        try:
            if job.resume is not None:
                self._note(job.resume)
                runner.resume(job.resume)
            if job.specs and not self.stop_event.is_set():
                runner.start_many(list(job.specs))  # creates the runs in order, one model load per group
        except USER_ERRORS as err:
            self._end(job, runner, "failed", str(err))
        except Exception as err:  # noqa: BLE001 - e.g. out of memory while loading; the window must say so
            self._end(job, runner, "failed", f"{type(err).__name__}: {err}")
        else:
            self._end(job, runner, "stopped" if self.stop_event.is_set() else "finished")

    def cancel(self):
        """Safe from any thread: the runner stops after the batch in progress."""
        self.stop_event.set()

    def _note(self, run_id: int | None):
        if run_id is not None and run_id not in self._seen:
            self._seen.append(run_id)

    def _on_progress(self, p: Progress):
        self._note(p.run_id)
        now = time.monotonic()
        if now - self._last_emit >= PROGRESS_EVERY_S or p.done >= p.total:
            self._last_emit = now
            self.progress.emit(p)

    def _end(self, job: Job, runner: Runner, outcome: str, message: str = ""):
        self._note(runner.current_run_id)
        started = len(self._seen) - (1 if job.resume is not None else 0)
        left = job.specs[started:] if outcome != "finished" else ()
        self.ended.emit(JobEnd(job, tuple(self._seen), outcome, message, tuple(left)))


class RunHost(WorkerHost):
    """Queues jobs on the worker thread and re-emits its signals; `busy` while one runs."""

    progress = Signal(object)  # Progress
    ended = Signal(object)  # JobEnd
    started = Signal(object)  # Job
    waiting = Signal(str)  # what the run waits for ("" once it goes on)

    def __init__(self, history: History, opener=engine_opener, items_per_batch: int = 8,
                 parent: QObject | None = None):
        worker = EvalWorker(history, opener, items_per_batch)
        super().__init__(worker, worker.run, "eval", parent)
        self.worker.ended.connect(self._on_ended)
        self.forward("progress", "waiting")
        self.current: Job | None = None
        self.start()

    @property
    def busy(self) -> bool:
        return self.current is not None

    def submit(self, job: Job) -> bool:
        """Start a job; False (and nothing happens) while another runs."""
        if self.busy:
            return False
        self.current = job
        self.started.emit(job)
        self.post(job)
        return True

    def cancel(self):
        self.worker.cancel()

    def stop_work(self):
        """shutdown (WorkerHost) stops the job in progress after its current batch."""
        self.worker.cancel()

    def _on_ended(self, end: JobEnd):
        self.current = None
        self.ended.emit(end)
