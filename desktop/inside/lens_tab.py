"""The Layers view (logit lens): each layer refines the representation, and the next-token guess
forms layer by layer. A grid with one column per token of the text and one row per layer
(row 0: the embeddings alone; the last row: the model's own prediction), each cell the most
likely next token read out at that layer, colored by its probability. Click a column for the
top 5 of every layer at that position.

`Model.logit_lens` runs on the model worker; this file only draws.
"""
from __future__ import annotations

import html
from dataclasses import dataclass

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QLabel, QScrollArea, QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from engine.inside.lens import LogitLens

from ..inspect.token_view import percent, probability_color, visible
from .subject import SubjectTokens, subject_tokens

TOP_K = 5
CELL_W, CELL_H, LABEL_W = 58.0, 15.0, 78.0


@dataclass(frozen=True)
class LensResult:
    tokens: SubjectTokens
    lens: LogitLens
    texts: dict  # token id -> its text, for every id in lens.token_ids


def lens_job(subject):
    def job(model, _progress) -> LensResult:
        tokens = subject_tokens(model, subject)
        lens = model.logit_lens(tokens.ids, TOP_K)
        texts = {int(i): model.tokenizer.token_text(int(i)) for i in lens.token_ids.unique().tolist()}
        return LensResult(tokens, lens, texts)
    return job


def share(p: float) -> str:
    """A probability as a percentage: whole percents from 10%, two significant digits below."""
    return f"{p:.0%}" if p >= 0.1 else percent(p)


def row_name(row: int, n_rows: int) -> str:
    if row == 0:
        return "embeddings"
    return f"layer {row}" + (" (out)" if row == n_rows - 1 else "")


class LensGrid(QWidget):
    column_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.result: LensResult | None = None
        self.selected = -1
        self.label_left = 0.0  # where the row labels are drawn: kept in view while the grid scrolls sideways

    def set_result(self, result: LensResult):
        self.result = result
        self.selected = min(self.selected, len(result.tokens.ids) - 1)
        self.setFixedSize(self.sizeHint())
        self.update()

    def sizeHint(self) -> QSize:
        if self.result is None:
            return QSize(200, 100)
        rows, t = self.result.lens.n_rows, len(self.result.tokens.ids)
        return QSize(int(LABEL_W + CELL_W * t + 4), int(CELL_H * (rows + 2) + 4))

    def cell_rect(self, row: int, col: int) -> QRectF:
        """row -1: the input tokens; rows 0 .. n_rows-1 the layers; n_rows: the actual next token."""
        return QRectF(LABEL_W + col * CELL_W, CELL_H * (row + 1), CELL_W - 1, CELL_H - 1)

    def paintEvent(self, _event):
        if self.result is None:
            return
        painter = QPainter(self)
        lens, tokens, texts = self.result.lens, self.result.tokens, self.result.texts
        rows, t = lens.n_rows, len(tokens.ids)
        bold = QFont(self.font())
        bold.setBold(True)
        small = QFont(self.font())
        small.setPointSizeF(max(6.5, self.font().pointSizeF() * 0.85))
        final = lens.token_ids[-1, :, 0]
        for col in range(t):
            rect = self.cell_rect(-1, col)
            painter.fillRect(rect, QColor("#f3f4f6"))
            painter.setPen(QColor("#111827"))
            painter.setFont(small)
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, visible(tokens.texts[col])[:8])
            for row in range(rows):
                token_id, p = int(lens.token_ids[row, col, 0]), float(lens.probs[row, col, 0])
                rect = self.cell_rect(row, col)
                painter.fillRect(rect, probability_color(p))
                painter.setPen(QColor("#111827"))
                painter.setFont(bold if token_id == int(final[col]) else small)
                painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, visible(texts[token_id])[:8])
            if col + 1 < t:
                rect = self.cell_rect(rows, col)
                painter.setFont(small)
                painter.setPen(QColor("#374151"))
                painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, visible(tokens.texts[col + 1])[:8])
        if 0 <= self.selected < t:
            painter.setPen(QPen(QColor("#1f2937"), 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(QRectF(LABEL_W + self.selected * CELL_W, CELL_H, CELL_W - 1, CELL_H * (rows + 1)))
        painter.fillRect(QRectF(self.label_left, 0, LABEL_W - 1, self.height()), self.palette().window())
        painter.setFont(small)
        painter.setPen(QColor("#6b7280"))
        for row in range(-1, rows + 1):
            name = "input" if row == -1 else ("next in text" if row == rows else row_name(row, rows))
            painter.drawText(QRectF(self.label_left, CELL_H * (row + 1), LABEL_W - 4, CELL_H),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, name)

    def scrolled(self, offset: int):
        self.label_left = float(offset)
        self.update()

    def mousePressEvent(self, event):
        if self.result is None or event.position().x() < self.label_left + LABEL_W:
            return
        col = int((event.position().x() - LABEL_W) // CELL_W)
        if 0 <= col < len(self.result.tokens.ids):
            self.selected = col
            self.update()
            self.column_clicked.emit(col)


class LensTab(QWidget):
    computed = Signal()

    def __init__(self, page, parent: QWidget | None = None):
        super().__init__(parent)
        self.page = page
        self.note = QLabel("Each layer adds to the token's representation. Read out early, it already "
                           "guesses a next token; watch the guess settle as the layers go up.")
        self.note.setWordWrap(True)
        self.grid = LensGrid()
        self.scroll = scroll = QScrollArea()
        scroll.setWidget(self.grid)
        scroll.horizontalScrollBar().valueChanged.connect(self.grid.scrolled)
        self.detail_title = QLabel("Click a column to see every layer's top 5 at that position.")
        self.detail_title.setWordWrap(True)
        self.detail = QTableWidget(0, TOP_K + 1)
        self.detail.setHorizontalHeaderLabels(["final token p"] + [f"#{i + 1}" for i in range(TOP_K)])
        self.detail.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        bottom = QWidget()
        col = QVBoxLayout(bottom)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(self.detail_title)
        col.addWidget(self.detail, 1)
        split = QSplitter()
        split.addWidget(scroll)
        split.addWidget(bottom)
        split.setSizes([640, 460])
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addWidget(split, 1)
        self.grid.column_clicked.connect(self.show_position)
        self.result: LensResult | None = None

    def refresh(self, subject):
        self.page.jobs.run("lens", lens_job(subject), "computing the logit lens", self._show, self.page.show_error)

    def _show(self, result: LensResult):
        self.result = result
        self.grid.set_result(result)
        t, rows = len(result.tokens.ids), result.lens.n_rows
        agree = int((result.lens.token_ids[-2, :, 0] == result.lens.token_ids[-1, :, 0]).sum()) if rows > 1 else t
        cut = f" (the last {t}; {result.tokens.dropped} earlier tokens left out)" if result.tokens.dropped else ""
        self.note.setText(
            f"<b>Logit lens</b> over {t} tokens{cut}: each column is a position, each row what the model would "
            f"predict next if it stopped after that layer (read through the final norm and output head). Bold: "
            f"the same token as the final prediction. The layer below the output already agrees at {agree} of "
            f"{t} positions. Color: probability (red low, green high).")
        start, end = result.tokens.span
        if start > 0 and end == t:  # an answer after a prompt: where its first token is predicted
            column = start - 1
        else:
            column = self.grid.selected if 0 <= self.grid.selected < t else t - 1
        self.show_position(column)
        self.scroll.ensureVisible(int(LABEL_W + CELL_W * (column + 0.5)), 0, int(CELL_W * 3), 0)
        self.computed.emit()

    def show_position(self, col: int):
        if self.result is None:
            return
        self.grid.selected = col
        self.grid.update()
        lens, texts = self.result.lens, self.result.texts
        rows = lens.n_rows
        following = self.result.tokens.texts[col + 1] if col + 1 < len(self.result.tokens.ids) else None
        self.detail_title.setText(
            f"After <code>{html.escape(visible(self.result.tokens.texts[col]))}</code> (token {col + 1}): "
            + (f"the text goes on with <code>{html.escape(visible(following))}</code>." if following is not None
               else "the end of the text."))
        self.detail.setRowCount(rows)
        self.detail.setVerticalHeaderLabels([row_name(r, rows) for r in range(rows)])
        for r in range(rows):
            item = QTableWidgetItem(share(float(lens.final_token_probs[r, col])))
            self.detail.setItem(r, 0, item)
            for k in range(lens.token_ids.shape[-1]):
                token_id, p = int(lens.token_ids[r, col, k]), float(lens.probs[r, col, k])
                cell = QTableWidgetItem(f"{visible(texts[token_id])!r} {share(p)}")
                cell.setBackground(probability_color(p))
                self.detail.setItem(r, k + 1, cell)
        self.detail.resizeColumnsToContents()
