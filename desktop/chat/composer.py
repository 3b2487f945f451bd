"""`Composer`: where the user types, with Send, Stop and the edit-a-sent-message mode.

Enter sends, Shift+Enter adds a line. While editing an earlier message a banner says that
Send will create a new branch. It emits what the user asked for and clears its text only
when told the message was accepted, so nothing typed is lost.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget


class _Input(QPlainTextEdit):
    submitted = Signal()

    def keyPressEvent(self, event: QKeyEvent):
        enter = event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
        if enter and not event.modifiers() & Qt.KeyboardModifier.ShiftModifier:
            self.submitted.emit()
            return
        super().keyPressEvent(event)


class Composer(QWidget):
    send_requested = Signal(str)  # a new message
    resend_requested = Signal(int, str)  # an edit of message id
    stop_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.input = _Input()
        self.input.setPlaceholderText("Message (Enter to send, Shift+Enter for a new line)")
        self.input.setMaximumHeight(110)
        self.input.submitted.connect(self.submit)
        self.send_button = QPushButton("Send")
        self.send_button.setDefault(True)
        self.send_button.clicked.connect(self.submit)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop the reply (Esc); what was written so far is kept")
        self.stop_button.clicked.connect(self.stop_requested)
        self.stop_button.setEnabled(False)
        self.edit_banner = QLabel()
        self.edit_banner.setObjectName("editBanner")
        self.cancel_edit_button = QPushButton("Cancel edit")
        self.cancel_edit_button.clicked.connect(self.cancel_edit)
        banner = QHBoxLayout()
        banner.addWidget(self.edit_banner, 1)
        banner.addWidget(self.cancel_edit_button)
        buttons = QVBoxLayout()
        buttons.addWidget(self.send_button)
        buttons.addWidget(self.stop_button)
        row = QHBoxLayout()
        row.addWidget(self.input, 1)
        row.addLayout(buttons)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(banner)
        layout.addLayout(row)
        self.editing: int | None = None
        self._draft = ""
        self.cancel_edit()

    def text(self) -> str:
        return self.input.toPlainText()

    def submit(self):
        text = self.text().strip()
        if not text or not self.send_button.isEnabled():
            return
        if self.editing is not None:
            self.resend_requested.emit(self.editing, text)
        else:
            self.send_requested.emit(text)

    def accepted(self):
        """The message was sent: clear the box (and leave edit mode, restoring any draft)."""
        was_editing = self.editing is not None
        self.input.setPlainText(self._draft if was_editing else "")
        self.cancel_edit(restore=False)

    def begin_edit(self, message_id: int, text: str):
        if self.editing is None:
            self._draft = self.text()
        self.editing = message_id
        self.input.setPlainText(text)
        self.edit_banner.setText("Editing a sent message: Send keeps the original and starts a new branch.")
        self.edit_banner.setVisible(True)
        self.cancel_edit_button.setVisible(True)
        self.input.setFocus()

    def cancel_edit(self, restore: bool = True):
        if self.editing is not None and restore:
            self.input.setPlainText(self._draft)
        self.editing = None
        self.edit_banner.setVisible(False)
        self.cancel_edit_button.setVisible(False)

    def set_busy(self, busy: bool):
        self.send_button.setEnabled(not busy)
        self.stop_button.setEnabled(busy)
