"""The attention view: a heatmap of which earlier tokens each token attended to, for one
layer and one head (or the average over heads), drawn with QPainter from a QImage.

It shows an `AttentionMap` the worker computed (`model.attention(ids)` never runs here):
rows are the attending tokens, columns the tokens attended to; the inspected message's
tokens are marked. It keeps no model state.
"""
from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ..model_worker import ATTENTION_MAX_TOKENS, AttentionMap
from .token_view import visible

LABEL_MIN_CELL = 9.0  # draw token labels only when a cell is at least this many pixels
LABEL_MARGIN = 70.0  # pixels left of and above the grid for token labels
MARK = QColor("#2563eb")
_STOPS = np.array([[255, 255, 255], [198, 219, 239], [107, 174, 214], [33, 113, 181], [8, 48, 107]], float)


def _palette() -> np.ndarray:
    """256 RGB colors from white (no attention) to dark blue (all of it)."""
    x = np.linspace(0, len(_STOPS) - 1, 256)
    low = np.floor(x).astype(int).clip(0, len(_STOPS) - 2)
    frac = (x - low)[:, None]
    return (_STOPS[low] * (1 - frac) + _STOPS[low + 1] * frac).astype(np.uint8)


PALETTE = _palette()


def heat_image(matrix: np.ndarray) -> QImage:
    """(T, T) weights in [0, 1] -> RGB image; a square root lifts the many small weights into view."""
    levels = (np.sqrt(np.clip(matrix, 0.0, 1.0)) * 255).round().astype(np.uint8)
    rgb = np.ascontiguousarray(PALETTE[levels])  # (T, T, 3)
    t = matrix.shape[0]
    return QImage(rgb.data, t, t, 3 * t, QImage.Format.Format_RGB888).copy()


class HeatMap(QWidget):
    hovered = Signal(int, int)  # row, column (-1, -1 outside)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setMinimumSize(240, 240)
        self.matrix: np.ndarray | None = None
        self.labels: list[str] = []
        self.span = (0, 0)
        self.image: QImage | None = None

    def set_matrix(self, matrix: np.ndarray, labels: list[str], span: tuple[int, int]):
        self.matrix, self.labels, self.span = matrix, labels, span
        self.image = heat_image(matrix)
        self.update()

    def geometry_of_cells(self) -> tuple[float, float, float]:
        """(left, top, cell size) of the grid inside the widget."""
        t = len(self.labels) or 1
        for margin in (LABEL_MARGIN, 8.0):  # room for token labels only when cells are big enough to read
            cell = min((self.width() - margin - 4) / t, (self.height() - margin - 4) / t)
            if cell >= LABEL_MIN_CELL:
                break
        return margin, margin, max(cell, 0.5)

    def cell_at(self, point: QPointF) -> tuple[int, int]:
        if self.matrix is None:
            return -1, -1
        left, top, cell = self.geometry_of_cells()
        col, row = int((point.x() - left) // cell), int((point.y() - top) // cell)
        t = len(self.labels)
        return (row, col) if 0 <= row < t and 0 <= col < t else (-1, -1)

    def paintEvent(self, _event):
        if self.image is None:
            return
        painter = QPainter(self)
        left, top, cell = self.geometry_of_cells()
        t = len(self.labels)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.drawImage(QRectF(left, top, cell * t, cell * t), self.image)
        start, end = self.span
        painter.fillRect(QRectF(left - 4, top + start * cell, 3, (end - start) * cell), MARK)
        painter.fillRect(QRectF(left + start * cell, top - 4, (end - start) * cell, 3), MARK)
        if cell >= LABEL_MIN_CELL:
            self._draw_labels(painter, left, top, cell)

    def _draw_labels(self, painter: QPainter, left: float, top: float, cell: float):
        font = painter.font()
        font.setPointSizeF(max(6.0, min(cell * 0.55, 9.0)))
        painter.setFont(font)
        painter.setPen(QColor("#374151"))
        for index, label in enumerate(self.labels):
            text = visible(label)[:10]
            painter.drawText(QRectF(0, top + index * cell, left - 6, cell),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, text)
            painter.save()
            painter.translate(left + index * cell, top - 6)
            painter.rotate(-90)
            painter.drawText(QRectF(0, 0, top - 6, cell), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             text)
            painter.restore()

    def mouseMoveEvent(self, event):
        self.hovered.emit(*self.cell_at(event.position()))


class AttentionView(QWidget):
    """Layer/head selectors, "average over heads", the heatmap and a line about the hovered cell."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.map: AttentionMap | None = None
        self.layer_box, self.head_box = QComboBox(), QComboBox()
        self.average = QCheckBox("Average over heads")
        self.average.setChecked(True)
        self.note = QLabel("Choose “Attention” under a message to see which earlier tokens each token looked at.")
        self.note.setWordWrap(True)
        self.heatmap = HeatMap()
        self.hover = QLabel(" ")
        self.hover.setWordWrap(True)
        controls = QHBoxLayout()
        controls.addWidget(QLabel("Layer"))
        controls.addWidget(self.layer_box)
        controls.addWidget(QLabel("Head"))
        controls.addWidget(self.head_box)
        controls.addWidget(self.average)
        controls.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addLayout(controls)
        layout.addWidget(self.heatmap, 1)
        layout.addWidget(self.hover)
        self.layer_box.currentIndexChanged.connect(self._redraw)
        self.head_box.currentIndexChanged.connect(self._redraw)
        self.average.toggled.connect(self._redraw)
        self.heatmap.hovered.connect(self._on_hover)

    def show_pending(self, title: str):
        self.note.setText(f"Computing attention for {title}…")

    def show_error(self, message: str):
        self.note.setText(f"Could not compute attention: {message}")

    def set_map(self, attention: AttentionMap, title: str = "the message"):
        self.map = attention
        layers, heads = attention.weights.shape[:2]
        for box, count, name in ((self.layer_box, layers, "layer"), (self.head_box, heads, "head")):
            box.blockSignals(True)
            keep = box.currentIndex()
            box.clear()
            box.addItems([str(i + 1) for i in range(count)])
            box.setCurrentIndex(keep if 0 <= keep < count else (count - 1 if name == "layer" else 0))
            box.blockSignals(False)
        t = len(attention.tokens)
        cut = (f" Only the last {ATTENTION_MAX_TOKENS} tokens are shown: {attention.dropped} earlier tokens were "
               "left out of this forward pass." if attention.dropped else "")
        self.note.setText(f"<b>{title}</b>: {t} tokens. Each row is a token; its colors show how much it attended "
                          f"to each earlier token (columns). The blue bars mark this message.{cut}")
        self._redraw()

    def current_matrix(self) -> np.ndarray | None:
        if self.map is None:
            return None
        layer = self.map.weights[max(self.layer_box.currentIndex(), 0)]  # (H, T, T)
        return layer.mean(0) if self.average.isChecked() else layer[max(self.head_box.currentIndex(), 0)]

    def _redraw(self):
        self.head_box.setEnabled(not self.average.isChecked())
        matrix = self.current_matrix()
        if matrix is not None:
            self.heatmap.set_matrix(matrix, self.map.tokens, self.map.span)

    def _on_hover(self, row: int, col: int):
        matrix = self.current_matrix()
        if matrix is None or row < 0:
            self.hover.setText(" ")
            return
        tokens = self.map.tokens
        self.hover.setText(f"token {row + 1} {visible(tokens[row])!r} → token {col + 1} {visible(tokens[col])!r}: "
                           f"{matrix[row, col]:.3f}")
