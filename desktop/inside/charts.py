"""Small QPainter charts the Inside views share: a rectangular heat grid, a labelled scatter
plot, a line chart with a log-scale y axis, and paired horizontal bars.

Each widget only draws the numbers it is given (numpy arrays or lists) and reports the hovered
cell or point; none computes anything about a model.
"""
from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QWidget

from ..inspect.attention_view import PALETTE
from ..inspect.token_view import visible

AXIS = QColor("#6b7280")
SERIES = (QColor("#2563eb"), QColor("#9ca3af"), QColor("#dc2626"))


def palette_image(matrix: np.ndarray, sqrt: bool = True) -> QImage:
    """(R, C) values in [0, 1] -> an RGB image from white to dark blue (a square root lifts small values)."""
    values = np.clip(np.nan_to_num(matrix.astype(np.float64)), 0.0, 1.0)
    levels = ((np.sqrt(values) if sqrt else values) * 255).round().astype(np.uint8)
    rgb = np.ascontiguousarray(PALETTE[levels])  # (R, C, 3)
    rows, cols = values.shape
    return QImage(rgb.data, cols, rows, 3 * cols, QImage.Format.Format_RGB888).copy()


class HeatGrid(QWidget):
    """A (rows, columns) matrix drawn as colored cells, with optional row and column labels."""
    hovered = Signal(int, int)  # row, column (-1, -1 outside)
    clicked = Signal(int, int)

    def __init__(self, left_margin: float = 56.0, top_margin: float = 18.0, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMouseTracking(True)
        self.setMinimumSize(200, 160)
        self.left, self.top = left_margin, top_margin
        self.matrix: np.ndarray | None = None
        self.image: QImage | None = None
        self.row_labels: list[str] = []
        self.col_labels: list[str] = []
        self.mark: tuple[int, int] | None = None

    def set_matrix(self, matrix: np.ndarray, row_labels=(), col_labels=(), sqrt: bool = True):
        self.matrix = np.asarray(matrix)
        self.image = palette_image(self.matrix, sqrt)
        self.row_labels, self.col_labels = list(row_labels), list(col_labels)
        self.update()

    def cells(self) -> tuple[float, float]:
        rows, cols = self.matrix.shape if self.matrix is not None else (1, 1)
        return (max(self.width() - self.left - 4, 1) / cols, max(self.height() - self.top - 4, 1) / rows)

    def cell_at(self, point: QPointF) -> tuple[int, int]:
        if self.matrix is None:
            return -1, -1
        w, h = self.cells()
        col, row = int((point.x() - self.left) // w), int((point.y() - self.top) // h)
        rows, cols = self.matrix.shape
        return (row, col) if 0 <= row < rows and 0 <= col < cols and point.x() >= self.left \
            and point.y() >= self.top else (-1, -1)

    def paintEvent(self, _event):
        if self.image is None:
            return
        painter = QPainter(self)
        w, h = self.cells()
        rows, cols = self.matrix.shape
        painter.drawImage(QRectF(self.left, self.top, w * cols, h * rows), self.image)
        painter.setPen(AXIS)
        font = painter.font()
        font.setPointSizeF(7.5)
        painter.setFont(font)
        last = -math.inf
        for i, label in enumerate(self.row_labels):
            y = self.top + i * h
            if label and y - last >= 11:  # skip labels that would overlap the one above
                painter.drawText(QRectF(0, y, self.left - 4, max(h, 11)),
                                 Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, label)
                last = y
        step = max(1, int(math.ceil(28 / w)))
        for j, label in enumerate(self.col_labels):
            if j % step == 0:
                painter.drawText(QRectF(self.left + j * w - 14 + w / 2, 0, 28, self.top - 2),
                                 Qt.AlignmentFlag.AlignCenter, label)
        if self.mark is not None:
            r, c = self.mark
            painter.setPen(QPen(QColor("#f59e0b"), 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(QRectF(self.left + c * w, self.top + r * h, w, h))

    def mouseMoveEvent(self, event):
        self.hovered.emit(*self.cell_at(event.position()))

    def mousePressEvent(self, event):
        row, col = self.cell_at(event.position())
        if row >= 0:
            self.clicked.emit(row, col)


class ScatterPlot(QWidget):
    """Labelled 2-D points, scaled to fit."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumSize(240, 200)
        self.points = np.zeros((0, 2))
        self.labels: list[str] = []
        self.axis_names = ("", "")

    def set_points(self, points: np.ndarray, labels: list[str], axis_names=("", "")):
        self.points, self.labels, self.axis_names = np.asarray(points, dtype=float), list(labels), axis_names
        self.update()

    def positions(self) -> list[QPointF]:
        """Where each point is drawn in the widget."""
        if not len(self.points):
            return []
        low, high = self.points.min(0), self.points.max(0)
        span = np.where(high - low > 1e-12, high - low, 1.0)
        margin = 40.0
        w, h = self.width() - 2 * margin, self.height() - 2 * margin
        return [QPointF(margin + (x - low[0]) / span[0] * w, self.height() - margin - (y - low[1]) / span[1] * h)
                for x, y in self.points]

    def paintEvent(self, _event):
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor("white"))
        painter.setPen(AXIS)
        painter.drawText(QRectF(0, self.height() - 18, self.width(), 16), Qt.AlignmentFlag.AlignCenter,
                         self.axis_names[0])
        painter.save()
        painter.translate(12, self.height() / 2)
        painter.rotate(-90)
        painter.drawText(QRectF(-self.height() / 2, -8, self.height(), 16), Qt.AlignmentFlag.AlignCenter,
                         self.axis_names[1])
        painter.restore()
        for point, label in zip(self.positions(), self.labels):
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(SERIES[0])
            painter.drawEllipse(point, 4, 4)
            painter.setPen(QColor("#111827"))
            painter.drawText(point + QPointF(6, -4), label)


class LogLineChart(QWidget):
    """Series of positive values over an index, y on a log scale, with optional horizontal reference lines."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumSize(240, 180)
        self.series: list[tuple[str, list[float]]] = []
        self.references: list[tuple[str, float]] = []
        self.x_name = ""

    def set_series(self, series: list[tuple[str, list[float]]], references=(), x_name: str = ""):
        self.series = [(name, [v for v in values]) for name, values in series]
        self.references, self.x_name = list(references), x_name
        self.update()

    def paintEvent(self, _event):
        values = [v for _, vs in self.series for v in vs if v > 0 and math.isfinite(v)] + \
                 [v for _, v in self.references if v > 0]
        if not values:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor("white"))
        left, top, right, bottom = 56.0, 10.0, self.width() - 10.0, self.height() - 34.0
        lo, hi = math.floor(math.log10(min(values))), math.ceil(math.log10(max(values)))
        hi = max(hi, lo + 1)
        n = max(len(vs) for _, vs in self.series) if self.series else 1

        def y_of(v):
            return bottom - (math.log10(v) - lo) / (hi - lo) * (bottom - top)

        def x_of(i):
            return left + i / max(n - 1, 1) * (right - left)

        painter.setPen(QColor("#e5e7eb"))
        for e in range(lo, hi + 1):
            painter.drawLine(QPointF(left, y_of(10 ** e)), QPointF(right, y_of(10 ** e)))
            painter.setPen(AXIS)
            painter.drawText(QRectF(0, y_of(10 ** e) - 8, left - 6, 16),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, f"1e{e}")
            painter.setPen(QColor("#e5e7eb"))
        painter.setPen(AXIS)
        painter.drawText(QRectF(left, bottom + 16, right - left, 16), Qt.AlignmentFlag.AlignCenter, self.x_name)
        for i in range(0, n, max(1, n // 8)):
            painter.drawText(QRectF(x_of(i) - 15, bottom + 2, 30, 14), Qt.AlignmentFlag.AlignCenter, str(i))
        for name, value in self.references:
            painter.setPen(QPen(SERIES[2], 1, Qt.PenStyle.DashLine))
            painter.drawLine(QPointF(left, y_of(value)), QPointF(right, y_of(value)))
            painter.drawText(QPointF(left + 4, y_of(value) - 3), name)
        legend_y = top + 12
        for k, (name, vs) in enumerate(self.series):
            pen = QPen(SERIES[k % 2], 2, Qt.PenStyle.SolidLine if k == 0 else Qt.PenStyle.DotLine)
            path = QPainterPath()
            for i, v in enumerate(vs):
                point = QPointF(x_of(i), y_of(max(v, 10 ** lo)))
                path.moveTo(point) if i == 0 else path.lineTo(point)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPath(path)
            painter.drawLine(QPointF(right - 150, legend_y), QPointF(right - 130, legend_y))
            painter.setPen(QColor("#111827"))
            painter.drawText(QPointF(right - 125, legend_y + 4), name)
            legend_y += 16


class PairedBars(QWidget):
    """One row per item: a label and two horizontal bars in [0, 1] (e.g. the model's probability and
    the probability after the sampling settings); one row can be marked."""

    ROW = 22.0

    def __init__(self, names=("model", "after settings"), parent: QWidget | None = None):
        super().__init__(parent)
        self.names = names
        self.rows: list[tuple[str, float, float]] = []
        self.marked = -1
        self.setMinimumHeight(120)

    def set_rows(self, rows: list[tuple[str, float, float]], marked: int = -1):
        self.rows, self.marked = list(rows), marked
        self.setMinimumHeight(int(self.ROW * (len(rows) + 1) + 8))
        self.update()

    def paintEvent(self, _event):
        painter = QPainter(self)
        label_w, width = 110.0, max(self.width() - 190.0, 40.0)
        painter.setPen(AXIS)
        for k, name in enumerate(self.names):
            painter.fillRect(QRectF(label_w + k * 130, 6, 10, 10), SERIES[k])
            painter.drawText(QPointF(label_w + k * 130 + 14, 15), name)
        for i, (label, a, b) in enumerate(self.rows):
            y = self.ROW * (i + 1)
            if i == self.marked:
                painter.fillRect(QRectF(0, y, self.width(), self.ROW), QColor("#fef3c7"))
            painter.setPen(QColor("#111827"))
            painter.drawText(QRectF(4, y, label_w - 8, self.ROW), Qt.AlignmentFlag.AlignRight |
                             Qt.AlignmentFlag.AlignVCenter, repr(visible(label))[1:-1][:14])
            for k, value in enumerate((a, b)):
                painter.fillRect(QRectF(label_w, y + 3 + k * 8, width * min(max(value, 0.0), 1.0), 7), SERIES[k])
            painter.setPen(AXIS)
            painter.drawText(QRectF(label_w + width + 6, y, 80, self.ROW), Qt.AlignmentFlag.AlignVCenter,
                             f"{a:.1%} → {b:.1%}")
