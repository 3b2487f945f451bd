"""`ConversationList`: the saved conversations, newest first, with full-text search.

An empty search box lists conversations; text in it lists matching messages (with the
matched words in brackets) from `History.search_messages`. Choosing a row asks to open
that conversation. It reads the history database and never writes to it.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QLineEdit, QListWidget, QListWidgetItem, QPushButton, QVBoxLayout, QWidget

from history import History, HistoryError

LIST_LIMIT = 300


class ConversationList(QWidget):
    open_requested = Signal(int)  # conversation id
    new_requested = Signal()
    error = Signal(str)

    def __init__(self, history: History, parent: QWidget | None = None):
        super().__init__(parent)
        self.history = history
        self.new_button = QPushButton("New chat")
        self.new_button.clicked.connect(self.new_requested)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search conversations…")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.refresh)
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.list.itemActivated.connect(self._open_item)
        self.list.itemClicked.connect(self._open_item)
        self.empty = QLabel("No conversations yet")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.new_button)
        layout.addWidget(self.search)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.empty)
        self.current_id: int | None = None
        self.refresh()

    def refresh(self):
        query = self.search.text().strip()
        try:
            rows = self._search(query) if query else self._recent()
        except HistoryError as err:
            self.error.emit(str(err))
            rows = []
        self.list.clear()
        for conversation_id, text, tip in rows:
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, conversation_id)
            item.setToolTip(tip)
            self.list.addItem(item)
            if conversation_id == self.current_id and not query:
                item.setSelected(True)
        self.empty.setVisible(not rows)
        self.empty.setText(f"Nothing matches “{query}”" if query else "No conversations yet")

    def mark_current(self, conversation_id: int | None):
        self.current_id = conversation_id
        for index in range(self.list.count()):
            item = self.list.item(index)
            item.setSelected(item.data(Qt.ItemDataRole.UserRole) == conversation_id)

    def conversation_ids(self) -> list[int]:
        return [self.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(self.list.count())]

    def _recent(self) -> list[tuple[int, str, str]]:
        return [(c["id"], c["title"], f"{c.get('n_messages', 0)} messages · {c['updated_at'][:16]}")
                for c in self.history.conversations(limit=LIST_LIMIT)]

    def _search(self, query: str) -> list[tuple[int, str, str]]:
        rows, seen = [], set()
        for hit in self.history.search_messages(query):
            if hit["conversation_id"] in seen:  # one row per conversation, its best match
                continue
            seen.add(hit["conversation_id"])
            rows.append((hit["conversation_id"], f"{hit['title']}\n{hit['snippet']}", hit["snippet"]))
        return rows

    def _open_item(self, item: QListWidgetItem):
        self.open_requested.emit(item.data(Qt.ItemDataRole.UserRole))
