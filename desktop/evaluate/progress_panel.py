"""`ProgressPanel`: the running job's progress bar (items done, items/s, ETA), Stop, and
Resume for runs that were interrupted, failed, or left running by a closed window or a
killed command.

It shows what `RunHost` reports and asks the page to act through signals; it runs nothing.
"""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QProgressBar, QPushButton, QVBoxLayout, QWidget

from evals.runner import Progress

from .queries import run_label


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60:02d}:{s % 60:02d}"


class ProgressPanel(QWidget):
    run_clicked = Signal()
    stop_clicked = Signal()
    resume_clicked = Signal(int)  # run id

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.run_button = QPushButton("Run")
        self.run_button.setObjectName("runButton")
        self.run_button.setDefault(True)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setObjectName("stopButton")
        self.stop_button.setEnabled(False)
        self.stop_button.setToolTip("Stop after the batch in progress; finished items are kept and the run "
                                    "can be resumed")
        self.resumable = QComboBox()
        self.resumable.setObjectName("resumableRuns")
        self.resumable.setMinimumContentsLength(30)
        self.resume_button = QPushButton("Resume")
        self.resume_button.setObjectName("resumeButton")
        self.resume_button.setToolTip("Score the items this run has no result for yet, then compute its metrics")
        self.bar = QProgressBar()
        self.bar.setObjectName("runProgress")
        self.bar.setFormat("%v / %m items")
        self.bar.setRange(0, 1)
        self.bar.setValue(0)
        self.status = QLabel("Pick suites, models and settings, then Run.")
        self.status.setObjectName("runStatus")
        self.status.setWordWrap(True)
        self.run_button.clicked.connect(self.run_clicked)
        self.stop_button.clicked.connect(self.stop_clicked)
        self.resume_button.clicked.connect(self._on_resume)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        buttons.addWidget(QLabel("Unfinished run"))
        buttons.addWidget(self.resumable, 1)
        buttons.addWidget(self.resume_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.bar)
        layout.addWidget(self.status)
        self.set_resumable([])

    def set_busy(self, busy: bool, text: str = ""):
        self.run_button.setEnabled(not busy)
        self.resume_button.setEnabled(not busy and self.resumable.count() > 0)
        self.stop_button.setEnabled(busy)
        if busy:
            self.bar.setRange(0, 0)  # busy indicator while the model loads
        if text:
            self.status.setText(text)

    def show_progress(self, p: Progress, position: str = ""):
        self.bar.setRange(0, max(1, p.total))
        self.bar.setValue(p.done)
        rate = f"{p.items_per_s:.1f} items/s" if p.items_per_s else "… items/s"
        self.status.setText(f"{position}run {p.run_id} · {p.suite_id} · {p.done}/{p.total} items · {rate} · "
                            f"ETA {clock(p.eta_s)} · elapsed {clock(p.elapsed_s)}")

    def set_resumable(self, runs: list[dict], select: int | None = None):
        self.resumable.clear()
        for run in runs:
            self.resumable.addItem(f"{run_label(run)} · {run['status']} · {run['n_done']}/{run['n_items']}", run["id"])
        if select is not None and self.resumable.findData(select) >= 0:
            self.resumable.setCurrentIndex(self.resumable.findData(select))
        self.resumable.setEnabled(bool(runs))
        self.resume_button.setEnabled(bool(runs) and not self.stop_button.isEnabled())

    def _on_resume(self):
        run_id = self.resumable.currentData()
        if run_id is not None:
            self.resume_clicked.emit(int(run_id))
