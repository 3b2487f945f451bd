"""`DownloadDialog`: download a model from the Hugging Face Hub, with progress, speed, time left and Cancel.

The user types a repository id (and optionally a revision); a repository with several GGUF
files shows them in a list to pick from. The work runs in a `DownloadWorker` on its own thread;
this dialog only shows what it reports. Cancel (or closing the dialog) stops the download after
the piece in flight and keeps what arrived, so Download again resumes it. When it is done, Open
hands the model to the Chat page.
"""
from __future__ import annotations

from PySide6.QtCore import QCoreApplication, QThread, Signal
from PySide6.QtWidgets import (
    QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QProgressBar, QPushButton, QVBoxLayout,
)

from engine.library.units import human_duration, human_size

from .download_worker import DownloadWorker, PullRequest

BAR_STEPS = 1000


class DownloadDialog(QDialog):
    downloaded = Signal(str)  # a model arrived (or was already here): its path
    # after the dialog has shown a report: "planned" | "progress" | "choose" | "finished" | "failed" | "cancelled"
    shown = Signal(str)
    open_requested = Signal(str)
    _submit = Signal(object)

    def __init__(self, parent=None, endpoint: str | None = None):
        """endpoint: the Hub to ask (default: HF_ENDPOINT or huggingface.co)."""
        super().__init__(parent)
        self.setWindowTitle("Download a model from the Hugging Face Hub")
        self.setMinimumWidth(560)
        self.endpoint = endpoint
        self.repo = QLineEdit()
        self.repo.setPlaceholderText("owner/name, e.g. HuggingFaceTB/SmolLM2-135M-Instruct")
        self.revision = QLineEdit()
        self.revision.setPlaceholderText("main")
        self.file = QComboBox()
        self.file_label = QLabel("GGUF file")
        self.file.setVisible(False)
        self.file_label.setVisible(False)
        self.progress = QProgressBar()
        self.progress.setRange(0, BAR_STEPS)
        self.progress.setValue(0)
        self.status = QLabel("Only what glasslm needs is downloaded: config, tokenizer and safetensors files, or "
                             "one GGUF file. Gated models need HF_TOKEN set before glasslm starts.")
        self.status.setWordWrap(True)
        self.status.setObjectName("downloadStatus")
        self.download_button = QPushButton("Download")
        self.download_button.setDefault(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.open_button = QPushButton("Open")
        self.open_button.setEnabled(False)
        buttons = QDialogButtonBox()
        for button in (self.download_button, self.cancel_button, self.open_button):
            buttons.addButton(button, QDialogButtonBox.ButtonRole.ActionRole)
        close = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        close.clicked.connect(self.close)
        form = QFormLayout()
        form.addRow("Repository", self.repo)
        form.addRow("Revision", self.revision)
        form.addRow(self.file_label, self.file)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(buttons)

        self.thread = QThread()
        self.thread.setObjectName("glasslm-download")
        self.worker = DownloadWorker()
        self.worker.moveToThread(self.thread)
        self._submit.connect(self.worker.run)
        self.worker.planned.connect(self._on_planned)
        self.worker.progress.connect(self._on_progress)
        self.worker.choose.connect(self._on_choose)
        self.worker.finished.connect(self._on_finished)
        self.worker.failed.connect(self._on_failed)
        self.worker.cancelled.connect(self._on_cancelled)
        self.download_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.open_button.clicked.connect(self._open)
        self.running = False
        self.path = ""
        self.thread.start()

    # ---- actions ----------------------------------------------------------------------------
    def start(self):
        repo_id = self.repo.text().strip()
        if not repo_id:
            return self._say("Type a repository id first, e.g. HuggingFaceTB/SmolLM2-135M-Instruct.", error=True)
        file = self.file.currentData() if self.file.isVisible() else None
        request = PullRequest(repo_id, file, self.revision.text().strip() or None, self.endpoint)
        self.running, self.path = True, ""
        self._set_busy(True)
        self.progress.setValue(0)
        self._say(f"Asking the Hub what {repo_id} holds…")
        self._submit.emit(request)

    def cancel(self):
        if self.running:
            self.worker.cancel()
            self._say("Cancelling…")

    def shutdown(self):
        """Stop a download in progress (after the piece in flight) and end the thread."""
        self.worker.cancel()
        self.thread.quit()
        self.thread.wait()
        QCoreApplication.sendPostedEvents(self)

    def closeEvent(self, event):
        self.worker.cancel()
        super().closeEvent(event)

    # ---- what the worker reports ------------------------------------------------------------
    def _on_planned(self, plan):
        count = len(plan.files)
        self._say(f"Downloading {count} file{'s' if count != 1 else ''} ({human_size(plan.total_bytes)}) of "
                  f"{plan.repo_id} into {plan.cache_dir}…")
        self.shown.emit("planned")

    def _on_progress(self, p):
        if p.total:
            self.progress.setValue(int(BAR_STEPS * p.done / p.total))
        speed = f" · {human_size(p.speed)}/s" if p.speed else ""
        left = f" · {human_duration(p.eta_s)} left" if p.eta_s is not None and p.done < p.total else ""
        self._say(f"{p.file or 'done'} · {human_size(p.done)} of {human_size(p.total)}{speed}{left}")
        self.shown.emit("progress")

    def _on_choose(self, files):
        self.running = False
        self._set_busy(False)
        self.file.clear()
        for remote in files:
            self.file.addItem(f"{remote.name}  ({human_size(remote.size)})", remote.name)
        self.file.setVisible(True)
        self.file_label.setVisible(True)
        self._say(f"This repository holds {len(files)} GGUF files: choose one, then press Download.")
        self.shown.emit("choose")

    def _on_finished(self, path: str):
        self.running, self.path = False, path
        self._set_busy(False)
        self.progress.setValue(BAR_STEPS)
        self.open_button.setEnabled(True)
        self._say(f"Downloaded: {path}")
        self.shown.emit("finished")
        self.downloaded.emit(path)

    def _on_failed(self, message: str):
        self.running = False
        self._set_busy(False)
        self._say(message[:1].upper() + message[1:], error=True)
        self.shown.emit("failed")

    def _on_cancelled(self, message: str):
        self.running = False
        self._set_busy(False)
        self._say(message[:1].upper() + message[1:] + ".")
        self.shown.emit("cancelled")

    # ---- helpers ----------------------------------------------------------------------------
    def _open(self):
        if self.path:
            self.open_requested.emit(self.path)
            self.close()

    def _set_busy(self, busy: bool):
        self.download_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)
        self.repo.setEnabled(not busy)
        self.revision.setEnabled(not busy)
        self.file.setEnabled(not busy)
        if busy:
            self.open_button.setEnabled(False)

    def _say(self, text: str, error: bool = False):
        self.status.setStyleSheet("color: #b42318;" if error else "")
        self.status.setText(text)
