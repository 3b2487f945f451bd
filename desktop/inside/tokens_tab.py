"""The Tokens view: text enters a model as tokens. Each token of the text as a chip (its text,
its id under it, colored by kind: ordinary, special, byte-fallback, part of a character), the
counts, and the same text in a second model's tokenizer side by side.

Tokenizing runs on the model worker (`engine.inside.tokens`); the second tokenizer is read
from its model file alone (no weights) and kept for the next text. It only shows results.
"""
from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPen
from PySide6.QtWidgets import (
    QComboBox, QFileDialog, QFrame, QGridLayout, QHBoxLayout, QLabel, QPushButton, QScrollArea, QSpacerItem,
    QToolTip, QVBoxLayout, QWidget,
)

from engine.inside.tokens import TokenBreakdown, load_tokenizer, token_breakdown

from ..inspect.token_view import visible

KIND_COLORS = {"text": QColor("#e0f2fe"), "special": QColor("#fde68a"), "byte": QColor("#fecaca"),
               "partial": QColor("#e9d5ff")}
KIND_NAMES = {"text": "ordinary", "special": "special", "byte": "byte fallback", "partial": "part of a character"}


def chip_label(piece) -> str:
    if piece.kind == "special":
        return piece.piece
    if piece.kind in ("byte", "partial"):
        return piece.bytes_hex or piece.piece
    return visible(piece.text).replace(" ", "·")


class PieceStrip(QWidget):
    """Chips of one TokenBreakdown, wrapped like text, each with its id in small print below."""
    hovered = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMouseTracking(True)
        self.breakdown: TokenBreakdown | None = None
        self.rects: list[QRectF] = []
        self._height = 40

    def set_breakdown(self, breakdown: TokenBreakdown | None):
        self.breakdown = breakdown
        self._relayout()

    def sizeHint(self) -> QSize:
        return QSize(300, self._height)

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self._relayout()

    def _relayout(self):
        metrics = QFontMetricsF(self.font())
        x = y = 0.0
        line = metrics.height() * 2 + 6
        self.rects = []
        for piece in self.breakdown.pieces if self.breakdown else ():
            w = max(metrics.horizontalAdvance(chip_label(piece)), metrics.horizontalAdvance(str(piece.id)) * 0.8) + 10
            if x > 0 and x + w > self.width():
                x, y = 0.0, y + line + 4
            self.rects.append(QRectF(x, y, w, line))
            x += w + 3
        self._height = int(y + line + 4) if self.rects else 40
        self.setMinimumHeight(self._height)
        self.update()

    def paintEvent(self, _event):
        if not self.breakdown:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        small = QFont(self.font())
        small.setPointSizeF(max(6.5, self.font().pointSizeF() * 0.75))
        for piece, rect in zip(self.breakdown.pieces, self.rects):
            painter.setBrush(KIND_COLORS[piece.kind])
            painter.setPen(QPen(QColor("#cbd5e1"), 1))
            painter.drawRoundedRect(rect, 3, 3)
            top, bottom = QRectF(rect.x(), rect.y() + 2, rect.width(), rect.height() / 2), \
                QRectF(rect.x(), rect.y() + rect.height() / 2, rect.width(), rect.height() / 2 - 2)
            painter.setPen(QColor("#111827"))
            painter.setFont(self.font())
            painter.drawText(top, Qt.AlignmentFlag.AlignCenter, chip_label(piece))
            painter.setPen(QColor("#6b7280"))
            painter.setFont(small)
            painter.drawText(bottom, Qt.AlignmentFlag.AlignCenter, str(piece.id))

    def piece_at(self, point) -> int:
        return next((i for i, r in enumerate(self.rects) if r.contains(point)), -1)

    def mouseMoveEvent(self, event):
        index = self.piece_at(event.position())
        self.hovered.emit(index)
        if index >= 0:
            QToolTip.showText(event.globalPosition().toPoint(), piece_tooltip(self.breakdown, index), self)


def piece_tooltip(breakdown: TokenBreakdown, index: int) -> str:
    p = breakdown.pieces[index]
    covered = breakdown.text[p.start:p.end]
    extra = f"<br>bytes {p.bytes_hex}" if p.bytes_hex else ""
    where = f"characters {p.start}-{p.end}: <code>{html.escape(repr(covered))}</code>" if p.end > p.start \
        else "added by the tokenizer, not typed"
    return (f"<b>id {p.id}</b> · {KIND_NAMES[p.kind]}<br>vocabulary entry <code>{html.escape(p.piece)}</code>"
            f"<br>{where}{extra}")


def counts_line(breakdown: TokenBreakdown) -> str:
    c = breakdown.counts()
    kinds = ", ".join(f"{c[k]} {KIND_NAMES[k]}" for k in ("special", "byte", "partial") if c[k])
    per_word = f" · {c['tokens'] / c['words']:.2f} tokens per word" if c["words"] else ""
    return (f"<b>{c['tokens']} tokens</b> for {c['characters']} characters ({c['bytes']} bytes), {c['words']} words"
            f"{per_word}" + (f" · {kinds}" if kinds else ""))


class TokenColumn(QWidget):
    def __init__(self, title: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = QLabel(f"<b>{title}</b>")
        self.counts = QLabel(" ")
        self.counts.setWordWrap(True)
        self.strip = PieceStrip()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.strip)
        scroll.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.counts)
        layout.addWidget(scroll, 1)

    def show(self, breakdown: TokenBreakdown, title: str):
        self.title.setText(f"<b>{html.escape(title)}</b>")
        self.strip.set_breakdown(breakdown)
        self.counts.setText(counts_line(breakdown))


class TokensTab(QWidget):
    computed = Signal()  # both columns shown

    def __init__(self, page, default_models: list[Path], parent: QWidget | None = None):
        super().__init__(parent)
        self.page = page
        self.note = QLabel("Text enters a Transformer as tokens: words, pieces of words, single bytes. "
                           "Hover a token for its vocabulary entry.")
        self.note.setWordWrap(True)
        self.left, self.right = TokenColumn("Loaded model"), TokenColumn("Second tokenizer")
        self.other = QComboBox()
        self.other.setEditable(True)
        self.other.setMinimumWidth(160)
        for path in default_models:
            self.other.addItem(path.stem if path.is_file() else path.name, str(path))
        browse = QPushButton("Other…")
        browse.clicked.connect(self._browse)
        legend = QHBoxLayout()
        for kind, color in KIND_COLORS.items():
            swatch = QLabel(f"&nbsp;{KIND_NAMES[kind]}&nbsp;")
            swatch.setTextFormat(Qt.TextFormat.RichText)
            swatch.setStyleSheet(f"background: {color.name()}; border-radius: 3px;")
            legend.addWidget(swatch)
        legend.addStretch(1)
        chooser = QHBoxLayout()
        chooser.addWidget(QLabel("Compare with"))
        chooser.addWidget(self.other, 1)
        chooser.addWidget(browse)
        columns = QGridLayout()
        columns.addItem(QSpacerItem(0, 0), 0, 0)
        columns.addLayout(chooser, 0, 1)
        columns.addWidget(self.left, 1, 0)
        columns.addWidget(self.right, 1, 1)
        columns.setColumnStretch(0, 1)
        columns.setColumnStretch(1, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addLayout(legend)
        layout.addLayout(columns, 1)
        self._tokenizers: dict[str, object] = {}  # read on the worker, kept for the next text
        self._pending = 0
        self.other.currentIndexChanged.connect(lambda _i: self.page.refresh_tab(self))

    def other_path(self) -> str:
        """The second tokenizer's model: a listed one by its path, or a path typed in the box."""
        text = self.other.currentText().strip()
        index = self.other.findText(text)
        return str(self.other.itemData(index)) if index >= 0 and self.other.itemData(index) else text

    def _browse(self):
        path, _ = QFileDialog.getOpenFileName(self, "A model's GGUF file or config.json", "",
                                              "Models (*.gguf config.json tokenizer.json);;All files (*)")
        if path:
            chosen = Path(path)
            target = chosen.parent if chosen.name in ("config.json", "tokenizer.json") else chosen
            self.other.addItem(target.name, str(target))
            self.other.setCurrentIndex(self.other.count() - 1)

    def refresh(self, subject):
        self._pending = 2
        self._avoid_loaded_model()
        text, special = subject.text, subject.special_tokens
        self.page.jobs.run("tokens", lambda model, _p: token_breakdown(model.tokenizer, text, special),
                           "tokenizing", lambda b: self._show(self.left, b, f"{self.page.model_name()}"),
                           self.page.show_error)
        path, cache = self.other_path(), self._tokenizers

        def other(model, progress):
            if path not in cache:
                progress(f"reading the tokenizer of {path}")
                cache[path] = load_tokenizer(path)
            return token_breakdown(cache[path], text, special)

        name = Path(path).stem if path else "second tokenizer"
        self.page.jobs.run("tokens-other", other, f"reading the tokenizer of {path}",
                           lambda b: self._show(self.right, b, name), self._other_failed)

    def _avoid_loaded_model(self):
        """Compare with a listed model other than the loaded one (the same tokenizer twice shows nothing)."""
        info = self.page.host.info
        if info is None or self.other.currentData() is None or \
                Path(str(self.other.currentData())).resolve() != Path(info.path).resolve():
            return
        for i in range(self.other.count()):
            if Path(str(self.other.itemData(i))).resolve() != Path(info.path).resolve():
                self.other.blockSignals(True)
                self.other.setCurrentIndex(i)
                self.other.blockSignals(False)
                return

    def _show(self, column: TokenColumn, breakdown: TokenBreakdown, title: str):
        column.show(breakdown, title)
        self._pending -= 1
        if self._pending == 0:
            self.computed.emit()

    def _other_failed(self, message: str):
        self.right.counts.setText(f"Could not tokenize with that model: {html.escape(message)}")
        self.right.strip.set_breakdown(None)
        self._pending -= 1
        if self._pending == 0:
            self.computed.emit()
