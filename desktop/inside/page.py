"""The Inside page: the ideas of how a Transformer works, shown on whatever model is loaded.

One text box (typed, or an eval item's prompt and answer sent by "Open inside") and a tab per
idea: Tokens, Embeddings, Positions, Layers (logit lens), Heads, Attention, Generation (with the
KV cache) and Quantization. It shares the Chat page's model (the chat host's worker runs every
computation, queued after any reply being written) and recomputes a tab when it is shown for a
new text or model. The tabs draw; the numbers come from `engine.inside`.
"""
from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QTabWidget, QVBoxLayout, QWidget,
)

import engine

from ..inspect.attention_view import AttentionView
from ..message_bar import MessageBar
from ..model_worker import AttentionMap
from ..pages import AppContext
from .embeddings_tab import EmbeddingsTab
from .heads_tab import HeadsTab
from .jobs import InsideJobs
from .lens_tab import LensTab
from .positions_tab import PositionsTab
from .quant_tab import QuantTab
from .stepper_tab import StepperTab
from .subject import Subject, subject_tokens
from .tokens_tab import TokensTab

DEFAULT_TEXT = "The animal didn't cross the street because it was tired."


def attention_job(subject: Subject):
    def job(model, _progress) -> AttentionMap:
        tokens = subject_tokens(model, subject)
        weights = model.attention(tokens.ids).numpy()  # (L, H, T, T)
        return AttentionMap(weights, tokens.texts, tokens.span, tokens.dropped)
    return job


class AttentionTab(AttentionView):
    """The chat's attention view, fed with the Inside page's text."""
    computed = Signal()

    def __init__(self, page, parent: QWidget | None = None):
        super().__init__(parent)
        self.page = page

    def refresh(self, subject: Subject):
        self.show_pending(subject.title)
        self.page.jobs.run("attention", attention_job(subject), "computing attention",
                           lambda result: self._show(result, subject.title), self.show_error)

    def _show(self, attention: AttentionMap, title: str):
        self.set_map(attention, title)
        self.computed.emit()

    def open_head(self, attention: AttentionMap, layer: int, head: int, title: str):
        self.set_map(attention, title)
        self.average.setChecked(False)
        self.layer_box.setCurrentIndex(layer)
        self.head_box.setCurrentIndex(head)
        self.computed.emit()


class InsidePage(QWidget):
    def __init__(self, context: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("insidePage")
        self.host = context.chat_host
        self.jobs = InsideJobs(self.host, self)
        self.model_line = QLabel()
        self.model_line.setObjectName("modelStatus")
        self.model_line.setWordWrap(True)  # a long model name must not widen the window
        self.message_bar = MessageBar()
        self.text = QPlainTextEdit(DEFAULT_TEXT)
        self.text.setObjectName("insideText")
        self.text.setMaximumHeight(70)
        self.special = QCheckBox("Add special tokens (BOS)")
        self.special.setToolTip("What the tokenizer adds to a text on its own, e.g. Llama's <s> at the start")
        self.special.setChecked(True)
        look = QPushButton("Look inside")
        look.setDefault(True)
        look.clicked.connect(lambda: self.refresh_tab(self.tabs.currentWidget()))
        others = [p for p in (engine.default_model_path(), engine.bundled_model_path()) if p.exists()]
        self.tokens_tab = TokensTab(self, list(dict.fromkeys(others)))
        self.embeddings_tab = EmbeddingsTab(self)
        self.positions_tab = PositionsTab(self)
        self.lens_tab = LensTab(self)
        self.heads_tab = HeadsTab(self)
        self.attention_tab = AttentionTab(self)
        self.stepper_tab = StepperTab(self)
        self.quant_tab = QuantTab(self)
        self.tabs = QTabWidget()
        for tab, name in ((self.tokens_tab, "Tokens"), (self.embeddings_tab, "Embeddings"),
                          (self.positions_tab, "Positions"), (self.lens_tab, "Layers"), (self.heads_tab, "Heads"),
                          (self.attention_tab, "Attention"), (self.stepper_tab, "Generation"),
                          (self.quant_tab, "Quantization")):
            self.tabs.addTab(tab, name)
        self.on_show = (self.tokens_tab, self.embeddings_tab, self.positions_tab, self.lens_tab, self.heads_tab,
                        self.attention_tab)  # computed when shown; Generation and Quantization wait for a button
        self._computed_for: dict[int, tuple] = {}
        self._opened: Subject | None = None  # an eval item sent here, while its text is unchanged
        self.heads_tab.head_opened.connect(self.open_head)
        self.tabs.currentChanged.connect(lambda _i: self._refresh_if_stale())
        self.host.loaded.connect(self._on_loaded)
        self.host.loading.connect(lambda _r: self._show_model())
        self.host.load_failed.connect(lambda _m: self._show_model())

        row = QHBoxLayout()
        row.addWidget(self.special)
        row.addStretch(1)
        row.addWidget(look)
        layout = QVBoxLayout(self)
        layout.addWidget(self.model_line)
        layout.addWidget(self.message_bar)
        layout.addWidget(self.text)
        layout.addLayout(row)
        layout.addWidget(self.tabs, 1)
        self._show_model()

    # ---- what is looked at ---------------------------------------------------------------------
    def subject(self) -> Subject:
        text = self.text.toPlainText()
        opened = self._opened
        if opened is not None and opened.text == text and opened.special_tokens == self.special.isChecked():
            return opened
        return Subject(text, self.special.isChecked())

    def open_text(self, prompt: str, answer: str = "", title: str = "the item"):
        """Show a prompt and the model's answer (an eval item) in the token, attention and lens views."""
        text = (prompt or "") + (answer or "")
        self.text.setPlainText(text)
        self._opened = Subject(text, self.special.isChecked(), len(prompt or "") if answer else None, title)
        self.message_bar.show_info(f"Showing {title}: its prompt and the model's answer"
                                   + (" (the answer's tokens are marked in the attention view)." if answer else "."))
        if self.tabs.currentWidget() not in (self.lens_tab, self.attention_tab):
            self.tabs.setCurrentWidget(self.lens_tab)  # (Tokens and Attention compute when shown)
        self._refresh_if_stale()

    def model_name(self) -> str:
        info = self.host.info
        return (info.name or Path(info.path).name) if info else "no model"

    # ---- computing -------------------------------------------------------------------------------
    def refresh_tab(self, tab):
        if self.message_bar.kind == "error":
            self.message_bar.clear()
        subject = self.subject()
        self._computed_for[id(tab)] = self._key(subject)
        tab.refresh(subject)

    def _key(self, subject: Subject) -> tuple:
        return subject, self.host.requested, self.host.info.fingerprint if self.host.info else None

    def _refresh_if_stale(self):
        tab = self.tabs.currentWidget()
        if tab in self.on_show and self.host.info is not None and self.isVisible() \
                and self._computed_for.get(id(tab)) != self._key(self.subject()):
            self.refresh_tab(tab)

    def showEvent(self, event):
        super().showEvent(event)
        self._refresh_if_stale()

    def open_head(self, layer: int, head: int):
        attention = self.heads_tab.result.attention
        self.attention_tab.open_head(attention, layer, head, f"layer {layer + 1}, head {head + 1}")
        self._computed_for[id(self.attention_tab)] = self._computed_for.get(id(self.heads_tab))
        self.tabs.setCurrentWidget(self.attention_tab)

    def show_error(self, message: str):
        self.message_bar.show_error(message)

    def _on_loaded(self, _result):
        self._show_model()
        self._refresh_if_stale()

    def _show_model(self):
        info = self.host.info
        if info is None:
            what = "Loading a model…" if self.host.is_loading else "No model is loaded: load one on the Chat page."
            self.model_line.setText(what)
            return
        self.model_line.setText(
            f"<b>{html.escape(self.model_name())}</b> · {info.model_type} · {info.n_layers} layers × {info.n_heads} "
            f"heads ({info.n_kv_heads} KV heads) · vocabulary {info.vocab_size:,} · context {info.context_length:,}"
            f" · {info.precision} on {info.device}. Everything below is computed on this model (the Chat page's).")
