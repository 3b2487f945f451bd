"""Point-and-whisker charts drawn with QPainter: each metric across settings (`MetricGrid`,
one small panel per metric, one point per run) and the per-variant accuracy spread for
prompt sensitivity (`VariantChart`, one group per variant).

Each point is a metric's value with its 95% bootstrap interval as a whisker, exactly the
numbers the metrics table shows. The widgets only draw what `set_data` gives them.
"""
from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from .queries import estimate_text

PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777"]
AXIS, GRID, TEXT = QColor("#9ca3af"), QColor("#e5e7eb"), QColor("#374151")


def series_color(i: int) -> QColor:
    return QColor(PALETTE[i % len(PALETTE)])


def y_ticks(estimates: list[dict | None]) -> list[float]:
    """Evenly spaced round ticks covering every value and interval end, 0 and 1 included."""
    values = [v for e in estimates if e for v in (e.get("value"), e.get("low"), e.get("high")) if v is not None]
    lo, hi = min(values + [0.0]), max(values + [1.0])
    step = next(s for s in (0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 1e9) if (hi - lo) / s <= 5)
    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    return [k * step for k in range(first, last + 1)]


def paint_whiskers(p: QPainter, rect: QRectF, title: str, groups: list[str],
                   values: list[list[dict | None]], show_values: bool = True):
    """One panel: `values[group][series]` are Estimate dicts (value, low, high) or None."""
    small = QFont(p.font())
    small.setPointSizeF(max(7.0, small.pointSizeF() - 1.5))
    p.setFont(small)
    p.setPen(TEXT)
    title_h = 18
    p.drawText(QRectF(rect.left(), rect.top(), rect.width(), title_h), Qt.AlignmentFlag.AlignLeft, title)
    ticks = y_ticks([e for row in values for e in row])
    lo, hi = ticks[0], ticks[-1]
    label_h = 30 if any(groups) else 4
    plot = QRectF(rect.left() + 34, rect.top() + title_h + 4, rect.width() - 40, rect.height() - title_h - label_h - 8)
    y_of = lambda v: plot.bottom() - (v - lo) / (hi - lo or 1) * plot.height()  # noqa: E731
    for k, v in enumerate(ticks):  # grid lines and their labels
        p.setPen(QPen(GRID if k else AXIS, 1))
        p.drawLine(QPointF(plot.left(), y_of(v)), QPointF(plot.right(), y_of(v)))
        p.setPen(TEXT)
        p.drawText(QRectF(rect.left(), y_of(v) - 7, 30, 14), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                   f"{v:g}")
    if lo < 0 < hi:
        p.setPen(QPen(AXIS, 1, Qt.PenStyle.DashLine))
        p.drawLine(QPointF(plot.left(), y_of(0)), QPointF(plot.right(), y_of(0)))
    n_groups = max(1, len(groups))
    group_w = plot.width() / n_groups
    for g, row in enumerate(values):
        n = max(1, len(row))
        slot = group_w / (n + 1)
        for s, est in enumerate(row):
            x = plot.left() + g * group_w + slot * (s + 1)
            if not est or est.get("value") is None:
                continue
            color = series_color(s)
            p.setPen(QPen(color, 1.6))
            if est.get("low") is not None:
                p.drawLine(QPointF(x, y_of(est["low"])), QPointF(x, y_of(est["high"])))
                for end in (est["low"], est["high"]):
                    p.drawLine(QPointF(x - 4, y_of(end)), QPointF(x + 4, y_of(end)))
            p.setBrush(color)
            p.drawEllipse(QPointF(x, y_of(est["value"])), 3.5, 3.5)
            p.setBrush(Qt.BrushStyle.NoBrush)
            if show_values and slot > 26:
                p.setPen(TEXT)
                p.drawText(QPointF(x + 6, y_of(est["value"]) + 4), f"{est['value']:.2f}")
        if groups and groups[g]:
            p.setPen(TEXT)
            p.drawText(QRectF(plot.left() + g * group_w, plot.bottom() + 2, group_w, label_h),
                       Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap,
                       groups[g].replace("_", "_\u200b"))  # long variant names wrap at underscores


def paint_legend(p: QPainter, rect: QRectF, labels: list[str]) -> float:
    """Coloured markers and labels, wrapping; returns the height used."""
    x, y, line_h = rect.left(), rect.top(), 18
    for i, label in enumerate(labels):
        w = p.fontMetrics().horizontalAdvance(label) + 26
        if x + w > rect.right() and x > rect.left():
            x, y = rect.left(), y + line_h
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(series_color(i))
        p.drawEllipse(QPointF(x + 6, y + line_h / 2), 4.5, 4.5)
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.setPen(TEXT)
        p.drawText(QRectF(x + 14, y, w, line_h), Qt.AlignmentFlag.AlignVCenter, label)
        x += w + 8
    return y + line_h - rect.top() if labels else 0.0


class _Chart(QWidget):
    empty_text = "No data"

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.labels: list[str] = []

    def sizeHint(self) -> QSize:
        return QSize(600, 320)

    def paint_empty(self, p: QPainter):
        p.setPen(TEXT)
        p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.empty_text)

    def begin(self) -> QPainter:
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), QColor("white"))
        return p


class MetricGrid(_Chart):
    """Small multiples: one panel per metric, one point with its interval per run."""

    empty_text = "Metrics appear here when a run has results."
    PANEL_W, PANEL_H = 250, 170

    def set_data(self, labels: list[str], metrics: list[tuple[str, list[dict | None]]]):
        self.labels, self.metrics = labels, metrics
        self.updateGeometry()
        self.update()

    metrics: list[tuple[str, list[dict | None]]] = []

    def _columns(self) -> int:
        return max(1, int(self.width() - 16) // self.PANEL_W)

    def heightForWidth(self, width: int) -> int:
        cols = max(1, (width - 16) // self.PANEL_W)
        return 40 + math.ceil(len(self.metrics) / cols) * self.PANEL_H

    def hasHeightForWidth(self) -> bool:
        return True

    def sizeHint(self) -> QSize:
        return QSize(800, self.heightForWidth(800))

    def paintEvent(self, _event):
        p = self.begin()
        if not self.metrics:
            self.paint_empty(p)
            return
        top = 8 + paint_legend(p, QRectF(8, 6, self.width() - 16, 60), self.labels) + 6
        cols = self._columns()
        w = (self.width() - 16) / cols
        for k, (name, row) in enumerate(self.metrics):
            r, c = divmod(k, cols)
            rect = QRectF(8 + c * w, top + r * self.PANEL_H, w - 12, self.PANEL_H - 10)
            paint_whiskers(p, rect, name, [""], [row])


class VariantChart(_Chart):
    """Accuracy per prompt variant (x) for each run (colour), with intervals."""

    empty_text = "No prompt variants in these runs (the prompt-sensitivity suite has them)."

    def set_data(self, labels: list[str], variants: list[str], values: list[list[dict | None]],
                 spreads: list[dict | None]):
        """values[variant][run]; spreads[run] is the run's `variant_spread` estimate."""
        self.labels = [f"{label}   spread {estimate_text(s)}" for label, s in zip(labels, spreads)]
        self.variants, self.values = variants, values
        self.update()

    variants: list[str] = []
    values: list[list[dict | None]] = []

    def paintEvent(self, _event):
        p = self.begin()
        if not self.variants:
            self.paint_empty(p)
            return
        top = 8 + paint_legend(p, QRectF(8, 6, self.width() - 16, 80), self.labels) + 6
        paint_whiskers(p, QRectF(8, top, self.width() - 16, self.height() - top - 8),
                       "accuracy per prompt variant (95% CI)", self.variants, self.values, show_values=False)

