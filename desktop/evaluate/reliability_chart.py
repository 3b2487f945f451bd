"""`ReliabilityChart`: the reliability diagram of one or more runs, drawn with QPainter.

For each of the 10 equal-width confidence bins the report stores (`report["reliability"]`,
computed by evals.metrics.reliability, the same bins as ECE), a point at (mean confidence,
accuracy) sized by how many items fell in it, joined per run; the diagonal is perfect
calibration. Below it, each run's share of items per bin. It only draws.
"""
from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPolygonF

from .charts import AXIS, GRID, TEXT, _Chart, paint_legend, series_color
from .queries import estimate_text


class ReliabilityChart(_Chart):
    empty_text = "No calibration data: these runs have no multiple-choice items."

    def set_data(self, labels: list[str], bins: list[list[dict]], ece: list[dict | None]):
        """bins[run] is the report's reliability list; ece[run] its `ece` estimate."""
        self.labels = [f"{label}   ECE {estimate_text(e)}" for label, e in zip(labels, ece)]
        self.bins = bins
        self.update()

    bins: list[list[dict]] = []

    def paintEvent(self, _event):
        p = self.begin()
        if not any(self.bins):
            self.paint_empty(p)
            return
        top = 8 + paint_legend(p, QRectF(8, 6, self.width() - 16, 80), self.labels) + 8
        hist_h = 60
        side = max(80.0, min(self.width() - 80.0, self.height() - top - hist_h - 50.0))
        plot = QRectF(52, top, side, side)
        hist = QRectF(52, plot.bottom() + 26, side, hist_h)
        self._axes(p, plot)
        for s, run_bins in enumerate(self.bins):
            self._series(p, plot, s, run_bins)
        self._histogram(p, hist)

    def _axes(self, p: QPainter, plot: QRectF):
        for k in range(6):
            t = k / 5
            p.setPen(QPen(GRID if 0 < k < 5 else AXIS, 1))
            p.drawLine(QPointF(plot.left() + t * plot.width(), plot.top()),
                       QPointF(plot.left() + t * plot.width(), plot.bottom()))
            p.drawLine(QPointF(plot.left(), plot.bottom() - t * plot.height()),
                       QPointF(plot.right(), plot.bottom() - t * plot.height()))
            p.setPen(TEXT)
            p.drawText(QRectF(plot.left() - 40, plot.bottom() - t * plot.height() - 7, 34, 14),
                       Qt.AlignmentFlag.AlignRight, f"{t:.1f}")
            p.drawText(QRectF(plot.left() + t * plot.width() - 20, plot.bottom() + 2, 40, 14),
                       Qt.AlignmentFlag.AlignHCenter, f"{t:.1f}")
        p.setPen(QPen(AXIS, 1, Qt.PenStyle.DashLine))
        p.drawLine(plot.bottomLeft(), plot.topRight())
        p.setPen(TEXT)
        p.drawText(QRectF(plot.right() + 8, plot.bottom() - 14, 200, 14), Qt.AlignmentFlag.AlignLeft,
                   "confidence →")
        p.drawText(QRectF(plot.right() + 8, plot.top(), 200, 14), Qt.AlignmentFlag.AlignLeft,
                   "↑ accuracy (diagonal: calibrated)")

    def _series(self, p: QPainter, plot: QRectF, s: int, run_bins: list[dict]):
        color = series_color(s)
        total = sum(b["count"] for b in run_bins) or 1
        points = [(b["confidence"], b["accuracy"], b["count"]) for b in run_bins if b["count"]]
        to_xy = lambda c, a: QPointF(plot.left() + c * plot.width(), plot.bottom() - a * plot.height())  # noqa: E731
        p.setPen(QPen(color, 1.6))
        p.drawPolyline(QPolygonF([to_xy(c, a) for c, a, _ in points]))
        fill = QColor(color)
        fill.setAlpha(170)
        p.setBrush(fill)
        for c, a, n in points:
            r = 3 + 9 * math.sqrt(n / total)
            p.drawEllipse(to_xy(c, a), r, r)
        p.setBrush(Qt.BrushStyle.NoBrush)

    def _histogram(self, p: QPainter, rect: QRectF):
        p.setPen(TEXT)
        p.drawText(QRectF(rect.right() + 8, rect.top(), 200, 14), Qt.AlignmentFlag.AlignLeft, "share of items per bin")
        n_series = len(self.bins)
        for s, run_bins in enumerate(self.bins):
            total = sum(b["count"] for b in run_bins) or 1
            color = series_color(s)
            color.setAlpha(200)
            for b in run_bins:
                w = (b["high"] - b["low"]) * rect.width() / max(1, n_series)
                x = rect.left() + b["low"] * rect.width() + s * w
                h = b["count"] / total * rect.height()
                p.fillRect(QRectF(x + 1, rect.bottom() - h, w - 2, h), color)
        p.setPen(QPen(AXIS, 1))
        p.drawLine(rect.bottomLeft(), rect.bottomRight())
