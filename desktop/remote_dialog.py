"""`RemoteDialog`: choose a model on an OpenAI-compatible server (vLLM, llama.cpp's server, Ollama,
TGI, `glasslm serve`) wherever a model is chosen (Chat, Compare, Evaluate).

The person gives the server's URL and, if it needs one, its API key; "List models" asks the
server's /v1/models on a background thread (never the GUI thread) and fills the model box, whose
text can also be typed. `chosen()` is the remote path (`URL#model`) the choosers store; the key
is kept for this session only (`engine.remote.remember_key`), never written to the settings.
It loads nothing and talks to the server only for the list.
"""
from __future__ import annotations

import threading

from PySide6.QtCore import QObject, QSettings, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox, QDialog, QDialogButtonBox, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout,
    QWidget,
)

import engine
from engine import remote

LAST_URL_KEY = "remote/last_url"
LIST_TIMEOUT_S = 10.0


class _Lister(QObject):
    """Fetches /v1/models on a plain thread; the answer arrives on the GUI thread through a queued signal."""
    listed = Signal(str, object)  # base URL, list of model ids
    failed = Signal(str, str)  # base URL, one-sentence message

    def fetch(self, url: str, api_key: str | None):
        def run():
            try:
                client = remote.OpenAIClient(url, api_key=remote.api_key_for(url, api_key), timeout_s=LIST_TIMEOUT_S,
                                             retries=1)
                self.listed.emit(client.base_url, [card["id"] for card in client.models()])
            except engine.EngineError as err:
                self.failed.emit(url, str(err))

        threading.Thread(target=run, name="glasslm-list-models", daemon=True).start()


class RemoteDialog(QDialog):
    def __init__(self, settings: QSettings, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Remote server")
        self.settings = settings
        self.url = QLineEdit(str(settings.value(LAST_URL_KEY) or "http://127.0.0.1:8000/v1"))
        self.url.setObjectName("remoteUrl")
        self.url.setToolTip("the server's OpenAI-compatible base URL, e.g. http://gpu-box:8000/v1 (vLLM), "
                            "http://127.0.0.1:11434/v1 (Ollama), http://127.0.0.1:8080/v1 (llama.cpp)")
        self.api_key = QLineEdit()
        self.api_key.setObjectName("remoteKey")
        self.api_key.setEchoMode(QLineEdit.EchoMode.Password)
        self.api_key.setPlaceholderText("(none, or $GLASSLM_API_KEY)")
        self.model = QComboBox()
        self.model.setObjectName("remoteModel")
        self.model.setEditable(True)
        self.model.setMinimumContentsLength(24)
        self.model.lineEdit().setPlaceholderText("(the only model served)")
        self.list_button = QPushButton("List models")
        self.list_button.clicked.connect(self.list_models)
        self.note = QLabel("Chat streams from the server with each token's probability; the attention view and "
                           "the Inside page need the weights, so they stay off for a remote model.")
        self.note.setObjectName("remoteNote")
        self.note.setWordWrap(True)
        self.note.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        model_row = QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(self.list_button)
        form = QFormLayout()
        form.addRow("Server URL", self.url)
        form.addRow("API key", self.api_key)
        form.addRow("Model", model_row)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.note)
        layout.addWidget(self.buttons)
        self._lister = _Lister(self)
        self._lister.listed.connect(self._on_listed)
        self._lister.failed.connect(self._on_failed)

    def list_models(self):
        try:
            url = remote.normalize_base_url(self.url.text())
        except engine.EngineError as err:
            self._show_problem(str(err))
            return
        self.list_button.setEnabled(False)
        self.note.setStyleSheet("")
        self.note.setText(f"Asking {url}/models…")
        self._lister.fetch(url, self.api_key.text().strip() or None)

    def chosen(self) -> str:
        """The remote path of the choice (URL#model); EngineError when the URL is not usable."""
        return remote.remote_path(self.url.text(), self.model.currentText().strip() or None)

    def accept(self):
        try:
            path = self.chosen()
        except engine.EngineError as err:
            self._show_problem(str(err))
            return
        url, _ = remote.parse_remote_path(path)
        remote.remember_key(url, self.api_key.text().strip() or None)
        self.settings.setValue(LAST_URL_KEY, url)
        super().accept()

    def _on_listed(self, url: str, ids: list):
        self.list_button.setEnabled(True)
        typed = self.model.currentText()
        self.model.clear()
        self.model.addItems(ids)
        if typed in ids:
            self.model.setCurrentText(typed)
        self.note.setStyleSheet("")
        self.note.setText(f"{url} serves {len(ids)} model{'s' if len(ids) != 1 else ''}." if ids
                          else f"{url} serves no model yet.")

    def _on_failed(self, _url: str, message: str):
        self.list_button.setEnabled(True)
        self._show_problem(message)

    def _show_problem(self, message: str):
        self.note.setStyleSheet("color: #b42318;")
        self.note.setText(message)
