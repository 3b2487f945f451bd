"""`MessageBar`: the strip at the top of a page that shows one error or notice until dismissed.

Errors a user can cause (a folder that is not a model, no memory, a database that cannot be
opened) end up here as the engine's or history's one-sentence message, so the window stays
usable and nothing typed is lost. It only displays text.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QToolButton, QWidget

STYLES = {
    "error": "background: #fdecea; color: #8a1c12; border: 1px solid #f5c2bd; border-radius: 4px;",
    "info": "background: #eef4fd; color: #1d3f72; border: 1px solid #c5d8f5; border-radius: 4px;",
}


class MessageBar(QFrame):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("messageBar")
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.clear)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.kind = ""
        self.setVisible(False)

    def show_error(self, text: str):
        self._show("error", text)

    def show_info(self, text: str):
        self._show("info", text)

    def text(self) -> str:
        return self.label.text() if self.kind else ""

    def clear(self):
        self.kind = ""
        self.label.clear()
        self.setVisible(False)

    def _show(self, kind: str, text: str):
        self.kind = kind
        self.setStyleSheet(f"#messageBar {{ {STYLES[kind]} }}")
        self.label.setText(text[:1].upper() + text[1:])
        self.setVisible(True)
