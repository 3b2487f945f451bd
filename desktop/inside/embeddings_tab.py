"""The Embeddings view: similar words get similar embeddings. The nearest tokens to a word by
cosine similarity of the input embeddings (`Model.embedding_neighbors`), and a 2-D map (PCA)
of a word list the user types.

Both run on the model worker; this file only asks and shows.
"""
from __future__ import annotations

import html
from dataclasses import dataclass

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QHBoxLayout, QLabel, QLineEdit, QPushButton, QSpinBox, QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout,
    QWidget,
)

from engine.inside.embeddings import Neighbor, WordMap, word_ids, word_map

from ..inspect.token_view import visible
from .charts import ScatterPlot

DEFAULT_WORD = "king"
DEFAULT_WORDS = "king, queen, prince, man, woman, child, sword, horse, dog, cat, red, blue, green, Monday, Friday"


@dataclass(frozen=True)
class NeighborResult:
    word: str
    token_id: int
    token_text: str
    n_tokens: int  # tokens the word takes (neighbors are of its first)
    neighbors: list[Neighbor]


def neighbors_job(word: str, k: int):
    def job(model, _progress) -> NeighborResult:
        from engine import EngineError

        text = word.strip()
        if text.startswith("#") and text[1:].isdigit():
            ids = [int(text[1:])]
        else:
            ids = word_ids(model.tokenizer, text) if text else []
        if not ids:
            raise EngineError("type a word (or #id for a token id) to find its neighbors")
        found = model.embedding_neighbors(ids[0], k)
        return NeighborResult(text, ids[0], model.tokenizer.token_text(ids[0]), len(ids), found)
    return job


class EmbeddingsTab(QWidget):
    computed = Signal()

    def __init__(self, page, parent: QWidget | None = None):
        super().__init__(parent)
        self.page = page
        self.word = QLineEdit(DEFAULT_WORD)
        self.k = QSpinBox()
        self.k.setRange(1, 100)
        self.k.setValue(10)
        find = QPushButton("Find neighbors")
        find.clicked.connect(self.find_neighbors)
        self.word.returnPressed.connect(self.find_neighbors)
        self.neighbor_note = QLabel("Each token is a vector; tokens used alike end up near each other.")
        self.neighbor_note.setWordWrap(True)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["token", "id", "cosine"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.words = QLineEdit(DEFAULT_WORDS)
        draw = QPushButton("Draw map")
        draw.clicked.connect(self.draw_map)
        self.words.returnPressed.connect(self.draw_map)
        self.map_note = QLabel("Words separated by commas, placed on the two directions along which their "
                               "embeddings differ most (PCA).")
        self.map_note.setWordWrap(True)
        self.scatter = ScatterPlot()

        left = QWidget()
        col = QVBoxLayout(left)
        col.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("Word"))
        row.addWidget(self.word, 1)
        row.addWidget(QLabel("k"))
        row.addWidget(self.k)
        row.addWidget(find)
        col.addLayout(row)
        col.addWidget(self.neighbor_note)
        col.addWidget(self.table, 1)
        right = QWidget()
        col = QVBoxLayout(right)
        col.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(QLabel("Words"))
        row.addWidget(self.words, 1)
        row.addWidget(draw)
        col.addLayout(row)
        col.addWidget(self.map_note)
        col.addWidget(self.scatter, 1)
        split = QSplitter()
        split.addWidget(left)
        split.addWidget(right)
        split.setSizes([380, 620])
        QVBoxLayout(self).addWidget(split)
        self._pending = 0
        self.result: NeighborResult | None = None
        self.map: WordMap | None = None

    def refresh(self, _subject=None):
        self._pending = 2
        self.find_neighbors()
        self.draw_map()

    def find_neighbors(self):
        self.page.jobs.run("neighbors", neighbors_job(self.word.text(), self.k.value()), "finding neighbors",
                           self._show_neighbors, self._failed)

    def draw_map(self):
        words = [w for w in self.words.text().split(",")]
        self.page.jobs.run("word-map", lambda model, _p: word_map(model, words), "drawing the word map",
                           self._show_map, self._failed)

    def _done(self):
        self._pending = max(0, self._pending - 1)
        if self._pending == 0:
            self.computed.emit()

    def _failed(self, message: str):
        self.page.show_error(message)
        self._done()

    def _show_neighbors(self, result: NeighborResult):
        self.result = result
        split = (f" It takes {result.n_tokens} tokens here; these are the neighbors of its first, "
                 f"<code>{html.escape(visible(result.token_text))}</code>." if result.n_tokens > 1 else "")
        self.neighbor_note.setText(f"Nearest tokens to <code>{html.escape(visible(result.token_text))}</code> "
                                   f"(id {result.token_id}) by cosine similarity of the input embeddings.{split}")
        self.table.setRowCount(len(result.neighbors))
        for i, n in enumerate(result.neighbors):
            for j, text in enumerate((repr(visible(n.text)), str(n.id), f"{n.cosine:.3f}")):
                self.table.setItem(i, j, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self._done()

    def _show_map(self, result: WordMap):
        self.map = result
        split = [w for w, ids in zip(result.words, result.token_ids) if len(ids) > 1]
        note = (f" Several tokens, placed at their mean: {', '.join(split)}." if split else "")
        self.map_note.setText(f"{len(result.words)} words on the first two principal components of their "
                              f"embeddings ({result.explained[0]:.0%} and {result.explained[1]:.0%} of their "
                              f"variance).{note}")
        self.scatter.set_points(result.coords.numpy(), list(result.words),
                                (f"component 1 ({result.explained[0]:.0%})", f"component 2 ({result.explained[1]:.0%})"))
        self._done()
