"""The Heads view: multi-head attention, each head doing its own job. Every head's pattern on
the current text, summarised (previous-token heads, first-token sinks, self heads, broad
heads) in a layers x heads grid; clicking a head opens the attention map at that layer and head.

The attention weights and summaries come from the model worker (`engine.inside.heads`); the
same weights feed the Attention tab, so the map opened is the one summarised.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QHBoxLayout, QLabel, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from engine.inside.heads import BROAD, KINDS, STRONG, HeadSummary, summarize_heads

from ..model_worker import AttentionMap
from .subject import subject_tokens

KIND_STYLE = {  # color, letter in the grid, what it means
    "previous-token": (QColor("#93c5fd"), "P", f"at least {STRONG:.0%} of its attention on the token just before"),
    "first-token": (QColor("#fca5a5"), "F", f"at least {STRONG:.0%} on the first token (an attention sink)"),
    "self": (QColor("#fde68a"), "S", f"at least {STRONG:.0%} on the token itself"),
    "broad": (QColor("#bbf7d0"), "B", f"spread over many tokens (normalised entropy ≥ {BROAD:g})"),
    "mixed": (QColor("#f3f4f6"), "·", "none of these"),
}


@dataclass(frozen=True)
class HeadsResult:
    summaries: list[HeadSummary]
    attention: AttentionMap
    n_layers: int
    n_heads: int


def heads_job(subject):
    def job(model, _progress) -> HeadsResult:
        tokens = subject_tokens(model, subject)
        weights = model.attention(tokens.ids)  # (L, H, T, T)
        attention = AttentionMap(weights.numpy().astype(np.float32), tokens.texts, tokens.span, tokens.dropped)
        return HeadsResult(summarize_heads(weights), attention, weights.shape[0], weights.shape[1])
    return job


def head_tooltip(s: HeadSummary) -> str:
    return (f"layer {s.layer + 1}, head {s.head + 1}: <b>{s.kind}</b><br>previous token {s.previous:.0%} · first "
            f"token {s.first:.0%} · itself {s.own:.0%}<br>spread (entropy) {s.entropy:.2f} · reaches "
            f"{s.mean_distance:.1f} tokens back on average<br><i>click to open its attention map</i>")


class HeadsTab(QWidget):
    computed = Signal()
    head_opened = Signal(int, int)  # layer, head (0-based)

    def __init__(self, page, parent: QWidget | None = None):
        super().__init__(parent)
        self.page = page
        self.note = QLabel("Each layer has several attention heads; each learns its own way of looking back.")
        self.note.setWordWrap(True)
        legend = QHBoxLayout()
        for kind in KINDS:
            color, letter, meaning = KIND_STYLE[kind]
            swatch = QLabel(f"&nbsp;{letter} {kind}&nbsp;")
            swatch.setTextFormat(Qt.TextFormat.RichText)
            swatch.setToolTip(meaning)
            swatch.setStyleSheet(f"background: {color.name()}; border-radius: 3px;")
            legend.addWidget(swatch)
        legend.addStretch(1)
        self.grid = QTableWidget(0, 0)
        self.grid.setObjectName("headGrid")
        self.grid.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.grid.cellClicked.connect(self.open_head)
        self.grid.currentCellChanged.connect(lambda r, c, *_: self._describe(r, c))
        self.detail = QLabel(" ")
        self.detail.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addLayout(legend)
        layout.addWidget(self.grid, 1)
        layout.addWidget(self.detail)
        self.result: HeadsResult | None = None

    def refresh(self, subject):
        self.page.jobs.run("heads", heads_job(subject), "summarising the heads", self._show, self.page.show_error)

    def summary(self, layer: int, head: int) -> HeadSummary:
        return self.result.summaries[layer * self.result.n_heads + head]

    def _show(self, result: HeadsResult):
        self.result = result
        L, H = result.n_layers, result.n_heads
        self.grid.setRowCount(L)
        self.grid.setColumnCount(H)
        self.grid.setVerticalHeaderLabels([f"layer {i + 1}" for i in range(L)])
        self.grid.setHorizontalHeaderLabels([f"head {i + 1}" for i in range(H)])
        for s in result.summaries:
            color, letter, _ = KIND_STYLE[s.kind]
            item = QTableWidgetItem(letter)
            item.setBackground(color)
            item.setToolTip(head_tooltip(s))
            self.grid.setItem(s.layer, s.head, item)
        self.grid.resizeColumnsToContents()
        counts = {k: sum(s.kind == k for s in result.summaries) for k in KINDS}
        named = ", ".join(f"{counts[k]} {k}" for k in KINDS if counts[k])
        t = len(result.attention.tokens)
        self.note.setText(f"<b>{L * H} heads</b> ({L} layers × {H}) on the current text ({t} tokens): {named}. "
                          "Hover a head for its numbers; click it to open its attention map.")
        self.computed.emit()

    def _describe(self, row: int, col: int):
        if self.result is not None and row >= 0 and col >= 0:
            self.detail.setText(head_tooltip(self.summary(row, col)).replace("<br><i>click to open its attention "
                                                                              "map</i>", ""))

    def open_head(self, layer: int, head: int):
        if self.result is not None:
            self._describe(layer, head)
            self.head_opened.emit(layer, head)
