"""The conversation as widgets: `MarkdownView` (auto-height Markdown with shaded code blocks),
`MessageWidget` (one message with its stats line and buttons) and `ChatView` (the scrolling
column of messages, plus the reply being streamed).

It shows what it is given and turns clicks into signals carrying message ids; it keeps no
conversation state of its own and never touches the model or the database.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QTextBlockFormat, QTextCursor, QTextFormat
from PySide6.QtWidgets import (
    QFrame, QHBoxLayout, QLabel, QPushButton, QScrollArea, QSizePolicy, QTextBrowser, QToolButton, QVBoxLayout,
    QWidget,
)

from ..records import settings_summary, stats_summary
from .tree import ConversationTree

CODE_BACKGROUND = QColor("#f3f4f6")


def keep_line_breaks(markdown: str) -> str:
    """Make each single newline a hard line break (outside code fences).

    Models write verse and lists line by line; plain Markdown would join those lines into one
    paragraph, so the reply would not look like what the model wrote."""
    lines, fenced = markdown.split("\n"), False
    for i, line in enumerate(lines[:-1]):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            continue
        if not fenced and line.strip() and lines[i + 1].strip() and not line.endswith("  "):
            lines[i] = line + "  "
    return "\n".join(lines)


class MarkdownView(QTextBrowser):
    """Read-only Markdown that grows to fit its text (the surrounding column scrolls, not it)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setOpenExternalLinks(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.viewport().setAutoFillBackground(False)
        self.document().documentLayout().documentSizeChanged.connect(self._fit)
        self._markdown = ""

    def set_markdown(self, text: str):
        if text == self._markdown:
            return
        self._markdown = text
        self.setMarkdown(keep_line_breaks(text))
        self._shade_code_blocks()

    def markdown(self) -> str:
        return self._markdown

    def _fit(self, size):
        self.setFixedHeight(int(size.height()) + 6)

    def _shade_code_blocks(self):
        fmt = QTextBlockFormat()
        fmt.setBackground(CODE_BACKGROUND)
        block = self.document().begin()
        while block.isValid():
            if block.blockFormat().hasProperty(QTextFormat.Property.BlockCodeFence):
                QTextCursor(block).mergeBlockFormat(fmt)
            block = block.next()


class MessageWidget(QFrame):
    def __init__(self, message: dict, tree: ConversationTree, view: "ChatView", last_reply: bool):
        super().__init__()
        self.message = message
        role = message["role"]
        self.setObjectName("userMessage" if role == "user" else "assistantMessage")
        header = QHBoxLayout()
        header.addWidget(QLabel(f"<b>{'You' if role == 'user' else 'Assistant'}</b>"))
        header.addStretch(1)
        message_id = message.get("id")
        if message_id is not None and len(tree.siblings(message_id)) > 1:
            self._add_branch_nav(header, tree.siblings(message_id), message_id, view)
        self.body = MarkdownView()
        self.body.set_markdown(message["content"] or ("…" if message_id is None else ""))
        self.footer = QLabel()
        self.footer.setObjectName("messageFooter")
        self.footer.setWordWrap(True)
        self.footer.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.buttons: dict[str, QPushButton] = {}
        if message_id is not None and role == "user":
            self._button(buttons, "Edit", lambda: view.edit_requested.emit(message_id))
        elif message_id is not None:
            self._button(buttons, "Tokens", lambda: view.tokens_requested.emit(message_id))
            self._button(buttons, "Attention", lambda: view.attention_requested.emit(message_id))
            self._button(buttons, "Check", lambda: view.check_requested.emit(message_id))
            self.buttons["Check"].setToolTip("Check this answer: sample more answers to the same conversation and "
                                             "mark the sentences they do not repeat")
            if last_reply:
                self._button(buttons, "Regenerate", view.regenerate_requested.emit)
        self.footer.setVisible(role == "assistant")
        if role == "assistant":
            self.footer.setText(self._footer_text(message))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        layout.setSpacing(2)
        layout.addLayout(header)
        layout.addWidget(self.body)
        layout.addWidget(self.footer)
        layout.addLayout(buttons)

    @staticmethod
    def _footer_text(message: dict) -> str:
        if message.get("id") is None:
            return "writing…"
        checked = f"  ·  checked: {message['check_summary']}" if message.get("check_summary") else ""
        return f"{stats_summary(message.get('stats'))}  ·  {settings_summary(message.get('settings'))}{checked}"

    def _button(self, layout, text, slot):
        button = QPushButton(text)
        button.setObjectName("messageButton")
        button.setCursor(Qt.CursorShape.PointingHandCursor)
        button.clicked.connect(slot)
        layout.addWidget(button)
        self.buttons[text] = button

    def _add_branch_nav(self, layout, siblings: list[int], message_id: int, view: "ChatView"):
        index = siblings.index(message_id)
        for text, target, tip in (("◀", index - 1, "Previous version"), (None, None, None),
                                  ("▶", index + 1, "Next version")):
            if text is None:
                layout.addWidget(QLabel(f"{index + 1}/{len(siblings)}"))
                continue
            button = QToolButton()
            button.setText(text)
            button.setToolTip(tip)
            button.setAutoRaise(True)
            button.setEnabled(0 <= target < len(siblings))
            if button.isEnabled():
                button.clicked.connect(lambda _=False, t=siblings[target]: view.branch_requested.emit(t))
            layout.addWidget(button)


class ChatView(QScrollArea):
    edit_requested = Signal(int)
    tokens_requested = Signal(int)
    attention_requested = Signal(int)
    check_requested = Signal(int)
    regenerate_requested = Signal()
    branch_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.container = QWidget()
        self.container.setObjectName("chatColumn")
        self.column = QVBoxLayout(self.container)
        self.column.setSpacing(8)
        self.column.addStretch(1)
        self.setWidget(self.container)
        self.widgets: list[MessageWidget] = []
        self.streaming: MessageWidget | None = None
        self.placeholder = QLabel("Send a message to start. Each reply can be opened in the token and "
                                  "attention views on the right.")
        self.placeholder.setWordWrap(True)
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setObjectName("placeholder")
        self.column.insertWidget(0, self.placeholder)

    def show_path(self, path: list[dict], tree: ConversationTree, streaming: bool):
        for widget in self.widgets:
            widget.deleteLater()
        self.widgets, self.streaming = [], None
        last_reply = max((i for i, m in enumerate(path) if m["role"] == "assistant"), default=-1)
        for index, message in enumerate(path):
            self._append(MessageWidget(message, tree, self, index == last_reply and not streaming))
        if streaming:
            self.streaming = MessageWidget({"id": None, "role": "assistant", "content": ""}, tree, self, False)
            self._append(self.streaming)
        self.placeholder.setVisible(not self.widgets)
        self._scroll_to_end()

    def set_streaming_text(self, text: str):
        if self.streaming is None:
            return
        bar = self.verticalScrollBar()
        at_end = bar.value() >= bar.maximum() - 40
        self.streaming.body.set_markdown(text or "…")
        if at_end:
            self._scroll_to_end()

    def widget_for(self, message_id: int) -> MessageWidget | None:
        return next((w for w in self.widgets if w.message.get("id") == message_id), None)

    def _append(self, widget: MessageWidget):
        self.column.insertWidget(self.column.count() - 1, widget)
        self.widgets.append(widget)

    def _scroll_to_end(self):
        QTimer.singleShot(0, self, self._scroll_now)  # after the layout has placed the new widgets

    def _scroll_now(self):
        self.verticalScrollBar().setValue(self.verticalScrollBar().maximum())
