"""The token view: every generated token as a chip colored by the probability the model gave
it, with the top alternatives (from `Token.top`) on hover and in a detail pane.

`TokenStrip` lays the chips out like wrapped text and paints them; `TokenView` adds a
summary, a color legend and the detail pane. Both only display a list of `engine.Token`.
"""
from __future__ import annotations

import html

from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFontMetricsF, QLinearGradient, QPainter, QPen
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QScrollArea, QToolTip, QVBoxLayout, QWidget

import engine

from ..records import probability

PAD_X, PAD_Y, GAP = 3.0, 2.0, 2.0
LOW_P = 0.1  # tokens below this probability are counted as "unsure" in the summary


def probability_color(p: float) -> QColor:
    """Red for unlikely tokens through amber to green for near-certain ones (pastel, text stays readable)."""
    p = min(max(p, 0.0), 1.0)
    return QColor.fromHsvF(0.33 * p, 0.45, 1.0)


def percent(p: float) -> str:
    """Two significant digits, so a tiny probability reads 0.042% rather than 0.0%."""
    return f"{p * 100:.2g}%"


def visible(text: str) -> str:
    return text.replace("\n", "↵").replace("\t", "→")


def token_label(token: engine.Token) -> tuple[str, bool]:
    """What a chip shows, and whether it is a special/empty token (shown in italics)."""
    if token.text:
        return visible(token.text), False
    alt = next((a.text for a in token.top if a.id == token.id and a.text), "")
    return (visible(alt) or f"#{token.id}"), True


def tooltip_html(token: engine.Token) -> str:
    label, _ = token_label(token)
    rows = []
    for alt in token.top:
        chosen = " ◀" if alt.id == token.id else ""
        rows.append(f"<tr><td><code>{html.escape(repr(alt.text))}</code></td>"
                    f"<td align='right'>{percent(probability(alt.logprob))}</td><td>{chosen}</td></tr>")
    if token.top and all(alt.id != token.id for alt in token.top):
        rows.append(f"<tr><td colspan=3><i>chosen token was not in the top {len(token.top)} (sampling)</i></td></tr>")
    return (f"<b><code>{html.escape(label)}</code></b> (id {token.id}): p = {percent(probability(token.logprob))}"
            f"<br>Top alternatives:<table>{''.join(rows)}</table>")


class TokenStrip(QWidget):
    hovered = Signal(int)  # token index, -1 when none
    clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMouseTracking(True)
        self.tokens: list[engine.Token] = []
        self.rects: list[QRectF] = []
        self.labels: list[tuple[str, bool]] = []
        self.selected = -1
        self._height = 0

    def set_tokens(self, tokens: list[engine.Token]):
        self.tokens = list(tokens)
        self.labels = [token_label(t) for t in self.tokens]
        self.selected = min(self.selected, len(self.tokens) - 1)
        self._relayout()

    def token_at(self, point: QPointF) -> int:
        for index, rect in enumerate(self.rects):
            if rect.contains(point):
                return index
        return -1

    def sizeHint(self) -> QSize:
        return QSize(400, max(self._height, 40))

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self._relayout()

    def _relayout(self):
        metrics = QFontMetricsF(self.font())
        width = max(self.width(), 100)
        line_height = metrics.height() + 2 * PAD_Y
        x = y = 0.0
        self.rects = []
        for token, (label, _special) in zip(self.tokens, self.labels):
            w = metrics.horizontalAdvance(label) + 2 * PAD_X
            if x > 0 and x + w > width:
                x, y = 0.0, y + line_height + GAP
            self.rects.append(QRectF(x, y, w, line_height))
            x += w + GAP
            if "\n" in token.text:
                x, y = 0.0, y + line_height + GAP
        self._height = int(y + line_height + GAP) if self.tokens else 0
        self.setMinimumHeight(self._height)
        self.update()

    def paintEvent(self, _event):
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        normal, italic = self.font(), self.font()
        italic.setItalic(True)
        for index, (token, rect, (label, special)) in enumerate(zip(self.tokens, self.rects, self.labels)):
            painter.setBrush(probability_color(probability(token.logprob)))
            painter.setPen(QPen(QColor("#1f2937"), 2) if index == self.selected else QPen(QColor("#d1d5db"), 1))
            painter.drawRoundedRect(rect, 3, 3)
            painter.setPen(QColor("#6b7280") if special else QColor("#111827"))
            painter.setFont(italic if special else normal)
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, label)

    def mouseMoveEvent(self, event):
        index = self.token_at(event.position())
        self.hovered.emit(index)
        if index >= 0:
            QToolTip.showText(event.globalPosition().toPoint(), tooltip_html(self.tokens[index]), self)
        else:
            QToolTip.hideText()

    def mousePressEvent(self, event):
        index = self.token_at(event.position())
        if index >= 0:
            self.selected = index
            self.update()
            self.clicked.emit(index)


class Legend(QWidget):
    def sizeHint(self) -> QSize:
        return QSize(160, 14)

    def paintEvent(self, _event):
        painter = QPainter(self)
        gradient = QLinearGradient(0, 0, self.width(), 0)
        for stop in (0.0, 0.25, 0.5, 0.75, 1.0):
            gradient.setColorAt(stop, probability_color(stop))
        painter.fillRect(self.rect(), gradient)


class TokenView(QWidget):
    """Summary + legend + strip of colored tokens + the alternatives of the hovered token."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.summary = QLabel("Choose “Tokens” under a reply to see how sure the model was of each token.")
        self.summary.setWordWrap(True)
        self.strip = TokenStrip()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.strip)
        scroll.setFrameShape(QFrame.Shape.StyledPanel)
        self.detail = QLabel("Hover a token to see the alternatives the model considered.")
        self.detail.setWordWrap(True)
        self.detail.setTextFormat(Qt.TextFormat.RichText)
        self.detail.setObjectName("tokenDetail")
        self.detail.setMinimumHeight(120)
        self.detail.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        legend = QHBoxLayout()
        legend.addWidget(QLabel("p = 0"))
        legend.addWidget(Legend(), 1)
        legend.addWidget(QLabel("1"))
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addLayout(legend)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.detail)
        self.strip.hovered.connect(self.show_detail)
        self.strip.clicked.connect(self.show_detail)
        self.message_id: int | None = None

    def set_tokens(self, tokens: list[engine.Token], title: str = "Reply", message_id: int | None = None):
        self.message_id = message_id
        self.strip.set_tokens(tokens)
        if not tokens:
            self.summary.setText(f"{title}: no token data was stored for this message.")
            return
        probs = [probability(t.logprob) for t in tokens]
        unsure = sum(p < LOW_P for p in probs)
        self.summary.setText(
            f"<b>{html.escape(title)}</b> · {len(tokens)} tokens · mean p {sum(probs) / len(probs):.2f} · "
            f"{unsure} below {LOW_P:.0%}. Hover or click a token for the alternatives.")

    def show_detail(self, index: int):
        if 0 <= index < len(self.strip.tokens):
            self.detail.setText(tooltip_html(self.strip.tokens[index]))
