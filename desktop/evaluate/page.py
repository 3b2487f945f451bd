"""The Evaluate page: pick suites and a settings matrix, run it with progress, stop, resume,
and see the results of what just ran.

It assembles `MatrixForm` (what to run), `ProgressPanel` (Run/Stop/Resume and the bar),
`ResultsView` (read back from the database) and a `MessageBar` for errors a user can cause
(a suite that does not validate, a model that fails to load or runs out of memory half-way,
a database locked by a command-line run). The runs themselves go through `RunHost`, on the
app's shared models (`shared_model.py`): a run of the model the chat has loaded uses that copy
and takes turns with the chat, and the progress line says when it waits for a chat reply.
"""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QScrollArea, QSplitter, QVBoxLayout, QWidget

from evals.errors import USER_ERRORS
from evals.remote_backend import remote_opener
from evals.suite import user_suites_dir

from ..message_bar import MessageBar
from ..pages import AppContext
from .matrix_form import MatrixForm
from .progress_panel import ProgressPanel
from .queries import RESUMABLE, resumable_runs
from .results_view import ResultsView
from .run_host import Job, JobEnd, RunHost
from .shared_model import pooled_opener
from .tasks import Tasks


class EvaluatePage(QWidget):
    job_ended = Signal(object)  # JobEnd, after the page has shown it

    def __init__(self, context: AppContext, opener=None, items_per_batch: int = 8,
                 parent: QWidget | None = None):
        """opener: how runs load models (evals.runner.ModelOpener; tests pass wrappers); by default local models
        from the app's model pool and remote ones (URL#model) through their server."""
        super().__init__(parent)
        self.setObjectName("evaluatePage")
        self.context, self.history = context, context.history
        if opener is None:
            shared = pooled_opener(context.pool, on_wait=lambda holder: self.host.worker.waiting.emit(holder),
                                   on_start=lambda: self.host.worker.waiting.emit(""))
            opener = remote_opener(local=shared)
        self.host = RunHost(self.history, opener, items_per_batch)
        self.tasks = Tasks(self)
        self.message_bar = MessageBar()
        self.form = MatrixForm(context.settings, context.default_model, user_suites_dir(self.history.path))
        self.progress = ProgressPanel()
        self.results = ResultsView(self.history, self.tasks)
        self._pending: dict[int, tuple] = {}  # run id -> specs not started when it stopped or failed
        self._job_runs: list[int] = []  # runs of the job in progress, in the order they started
        self._total = 0  # runs the job in progress will start or resume
        self._closing = False
        self._last_progress = None  # the latest Progress, shown again once a wait for the model ends

        form_scroll = QScrollArea()
        form_scroll.setWidgetResizable(True)
        form_scroll.setWidget(self.form)
        form_scroll.setMinimumWidth(330)
        right = QWidget()
        column = QVBoxLayout(right)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.progress)
        column.addWidget(self.results, 1)
        split = QSplitter()
        split.addWidget(form_scroll)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([340, 900])
        layout = QVBoxLayout(self)
        layout.addWidget(self.message_bar)
        body = QHBoxLayout()
        body.addWidget(split)
        layout.addLayout(body, 1)

        self.form.error.connect(self.show_error)
        self.results.error.connect(self.show_error)
        self.progress.run_clicked.connect(self.run_matrix)
        self.progress.stop_clicked.connect(self.stop)
        self.progress.resume_clicked.connect(self.resume)
        self.host.progress.connect(self._on_progress)
        self.host.ended.connect(self._on_ended)
        self.host.waiting.connect(self._on_waiting)
        self.refresh_resumable()

    # ---- actions ------------------------------------------------------------------------------
    def run_matrix(self) -> bool:
        """Run every ticked combination; False (with a message) when the form has a mistake."""
        self.message_bar.clear()
        try:
            specs = self.form.specs()
        except USER_ERRORS as err:
            self.show_error(str(err))
            return False
        return self._submit(Job(tuple(specs), label=f"{len(specs)} run{'s' if len(specs) > 1 else ''}"))

    def add_suite_file(self, path) -> bool:
        """Validate a suite file and tick it; False (with the validator's message) when it is bad."""
        try:
            self.form.add_suite_file(path)
        except USER_ERRORS as err:
            self.show_error(str(err))
            return False
        return True

    def resume(self, run_id: int) -> bool:
        self.message_bar.clear()
        rest = self._pending.pop(run_id, ())
        return self._submit(Job(tuple(rest), resume=run_id, label=f"resuming run {run_id}"))

    def stop(self):
        self.host.cancel()
        self.progress.status.setText("Stopping after the batch in progress…")

    def show_error(self, text: str):
        self.message_bar.show_error(text)

    def refresh_resumable(self, select: int | None = None):
        try:
            runs = resumable_runs(self.history)
        except USER_ERRORS as err:
            self.show_error(str(err))
            runs = []
        self.progress.set_resumable(runs, select)

    def shutdown(self):
        """Stop a run in progress (it is marked interrupted and can be resumed) and end the threads."""
        self._closing = True
        self.host.shutdown()
        self.tasks.shutdown()

    def _resumable(self, run_id: int) -> bool:
        try:
            return self.history.run(run_id)["status"] in RESUMABLE
        except USER_ERRORS:
            return False

    # ---- host signals -------------------------------------------------------------------------
    def _submit(self, job: Job) -> bool:
        if not self.host.submit(job):
            self.show_error("a run is already in progress; stop it or wait for it to finish")
            return False
        self._job_runs = [job.resume] if job.resume is not None else []
        self._last_progress = None
        self._total = len(job.specs) + (job.resume is not None)
        self.progress.set_busy(True, f"Starting {job.label}: loading the model…")
        return True

    def _on_progress(self, p):
        self._last_progress = p
        if p.run_id not in self._job_runs:
            self._job_runs.append(p.run_id)
        position = f"{self._job_runs.index(p.run_id) + 1} of {self._total} · " if self._total > 1 else ""
        self.progress.show_progress(p, position)

    def _on_waiting(self, holder: str):
        if holder:
            self.progress.status.setText(f"Waiting for {holder} (the model is shared with it)…")
        elif self._last_progress is not None:
            self._on_progress(self._last_progress)
        else:
            self.progress.status.setText("Running…")

    def _on_ended(self, end: JobEnd):
        if self._closing:
            return
        self.progress.set_busy(False)
        if self.progress.bar.maximum() == 0:  # nothing was scored (e.g. the model did not load)
            self.progress.bar.setRange(0, 1)
        if end.outcome == "finished":
            self.progress.bar.setValue(self.progress.bar.maximum())
        last = end.last_run if end.outcome != "finished" else None
        if last is not None and not self._resumable(last):
            last = None  # it stopped or failed between runs: nothing half-done to resume
        if last is not None:
            self._pending[last] = end.not_started
        waiting = (f" {len(end.not_started)} run{'s' if len(end.not_started) != 1 else ''} of the matrix did not "
                   "start" + (", Resume starts them too." if last is not None else "; press Run to start over.")
                   if end.not_started else "")
        if end.outcome == "finished":
            n = len(end.run_ids)
            self.progress.status.setText(f"Finished {n} run{'s' if n != 1 else ''}. Every run is also on the "
                                         "History page.")
        elif end.outcome == "stopped":
            kept = f"Run {last} keeps its finished items; Resume finishes it." if last is not None else ""
            self.progress.status.setText(f"Stopped. {kept}{waiting}")
        else:
            hint = (f" Finished items are kept; in this window, pick run {last} under Unfinished run and "
                    "press Resume.") if last is not None else ""
            self.show_error(end.message.rstrip(".") + "." + hint + waiting)
            self.progress.status.setText("The run failed; see the message above.")
        self.refresh_resumable(select=last if end.outcome != "finished" else None)
        if end.run_ids:
            self.results.set_runs(list(end.run_ids))
        self.job_ended.emit(end)
