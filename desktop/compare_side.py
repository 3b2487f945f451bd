"""`CompareSide`: one column of the Compare page: its model, precision, device and sampling,
the reply streaming in as Markdown, and the reply's stats.

It holds the reply's tokens for the request it was given and renders when asked; the page
decides which model host runs it. No model or database access here.
"""
from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QFrame, QGroupBox, QLabel, QScrollArea, QVBoxLayout, QWidget

import engine

from .chat.message_view import MarkdownView
from .model_panel import ModelChooser
from .records import reply_settings, settings_summary, stats_summary
from .settings_panel import SamplingForm


class CompareSide(QGroupBox):
    def __init__(self, name: str, settings: QSettings, default_model: Path, defaults: dict,
                 parent: QWidget | None = None):
        super().__init__(f"Side {name}", parent)
        self.name, self.settings = name, settings
        self.chooser = ModelChooser(settings, default_model)
        self.form = SamplingForm()
        self.form.set_values(defaults)
        self.output = MarkdownView()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.StyledPanel)
        holder = QWidget()
        holder_layout = QVBoxLayout(holder)
        holder_layout.addWidget(self.output)
        holder_layout.addStretch(1)
        scroll.setWidget(holder)
        self.scroll = scroll
        self.stats = QLabel(" ")
        self.stats.setWordWrap(True)
        self.stats.setObjectName("messageFooter")
        layout = QVBoxLayout(self)
        layout.addWidget(self.chooser)
        layout.addWidget(self.form)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.stats)
        self.rid: int | None = None
        self.tokens: list[engine.Token] = []
        self.last_stats: engine.Stats | None = None
        self.error = ""
        self.restore()

    @property
    def running(self) -> bool:
        return self.rid is not None

    def text(self) -> str:
        return "".join(t.text for t in self.tokens)

    def start(self, rid: int, loading: bool):
        self.rid, self.tokens, self.last_stats, self.error = rid, [], None, ""
        self.output.set_markdown("")
        self.stats.setStyleSheet("")
        self.stats.setText("Loading the model…" if loading else "Waiting for the first token…")

    def add_tokens(self, tokens: list):
        self.tokens.extend(tokens)

    def render(self):
        self.output.set_markdown(self.text())
        if self.running and self.tokens:
            self.stats.setText(f"{len(self.tokens)} tokens so far…")
        bar = self.scroll.verticalScrollBar()
        bar.setValue(bar.maximum())

    def finish(self, stats: engine.Stats, info: engine.ModelInfo | None):
        self.rid, self.last_stats = None, stats
        self.render()
        summary = settings_summary(reply_settings(self.form.sampling(), "", info))
        self.stats.setText(f"{stats_summary(stats.to_dict())}  ·  {summary}")

    def fail(self, message: str):
        self.rid, self.error = None, message
        self.render()
        self.stats.setStyleSheet("color: #b42318;")
        self.stats.setText(message[:1].upper() + message[1:])

    def save(self):
        request = self.chooser.request()
        values = {**self.form.values(), "model": request.path, "device": request.device,
                  "precision": request.precision}
        self.settings.setValue(f"compare/{self.name}", json.dumps(values))

    def restore(self):
        try:
            values = json.loads(self.settings.value(f"compare/{self.name}") or "{}")
        except (TypeError, ValueError):
            values = {}
        self.form.set_values(values)
        self.chooser.set_request(values.get("model"), values.get("device"), values.get("precision"))
