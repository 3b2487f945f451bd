"""`TurnNotice`: a line that says a host's request is waiting for a shared model ("Waiting for the
eval run's current batch…"), shown from the host's `waiting` signal until the request starts or ends.

It listens to one `ModelHost` and only displays; who waits for whom is `ModelPool`'s `Turn`.
"""
from __future__ import annotations

from PySide6.QtWidgets import QLabel, QWidget

from .model_host import ModelHost


class TurnNotice(QLabel):
    def __init__(self, host: ModelHost, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("turnNotice")
        self.setWordWrap(True)
        self._waiting: dict[int, str] = {}  # request id -> what it waits for
        host.waiting.connect(self._on_waiting)
        for ended in (host.finished, host.failed, host.computed, host.attention_ready):
            ended.connect(lambda rid, _payload: self._done(rid))
        self.setVisible(False)

    def _on_waiting(self, rid: int, holder: str):
        if holder:
            self._waiting[rid] = holder
        else:
            self._waiting.pop(rid, None)
        self._show()

    def _done(self, rid: int):
        if self._waiting.pop(rid, None) is not None:
            self._show()

    def _show(self):
        holder = next(iter(self._waiting.values()), "")
        self.setText(f"Waiting for {holder}: the model is shared with it, and this starts right after."
                     if holder else "")
        self.setVisible(bool(holder))
