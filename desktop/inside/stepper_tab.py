"""The Generation view: a decoder writes one token at a time. Step through a generation: the
model's distribution for the next token, what the sampling settings make of it, the token
chosen and why, and the key/value cache that saves recomputing earlier tokens (its size per
token and layer, in total, and how much of this prompt the chat's cache already holds).

The `engine.inside.stepper.Stepper` lives on the model worker: it is created and stepped only
inside jobs; this view keeps a reference to hand back to the next job, and draws the `Step`s.
"""
from __future__ import annotations

import html
from dataclasses import dataclass

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox, QGroupBox, QHBoxLayout, QLabel, QPushButton, QScrollArea, QSplitter, QVBoxLayout, QWidget,
)

from engine.inside.stepper import CacheInfo, Step, Stepper

from ..inspect.token_view import visible
from ..settings_panel import SamplingForm
from .charts import PairedBars

DEFAULTS = {"temperature": 0.7, "top_k": 0, "top_p": 0.9, "min_p": 0.0, "repetition_penalty": 1.0,
            "max_new_tokens": 64, "seed": 0}


@dataclass(frozen=True)
class Started:
    stepper: Stepper
    prompt_tail: str  # the end of the prompt as the model sees it
    prompt_tokens: int
    cache: CacheInfo


@dataclass(frozen=True)
class Stepped:
    steps: list[Step]
    cache: CacheInfo


def start_job(text: str, as_chat: bool, special_tokens: bool, sampling):
    def job(model, _progress) -> Started:
        if as_chat and model.has_chat_template:
            ids = model.chat_ids([{"role": "user", "content": text}])
        else:
            ids = model.tokenizer.encode(text, add_special_tokens=special_tokens)
        stepper = Stepper(model, ids, sampling)
        return Started(stepper, model.tokenizer.decode(ids[-40:]), len(ids), stepper.cache_info())
    return job


def step_job(stepper: Stepper, count: int):
    def job(_model, progress) -> Stepped:
        steps = []
        for i in range(count):
            if stepper.finished:
                break
            if i:
                progress(f"token {i + 1} of {count}")
            steps.append(stepper.step())
        return Stepped(steps, stepper.cache_info())
    return job


def size(n: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def cache_text(c: CacheInfo, prompt_tokens: int) -> str:
    reuse = (f"The chat's cache already holds the first {c.chat_reused} of these {prompt_tokens} prompt tokens: "
             f"a chat turn with this prompt would compute only the other {prompt_tokens - c.chat_reused}."
             if c.chat_reused else
             f"The chat's cache holds none of this prompt; in a chat, each turn reuses the keys and values of the "
             f"turns before it and computes only its new tokens.")
    return (f"<b>KV cache</b> ({c.dtype}): each layer keeps the keys and values of every token it has seen, so a new "
            f"token is one position through the network instead of the whole text again.<br>"
            f"2 (key, value) × {c.n_kv_heads} KV heads × {c.head_dim} dims × {c.element_bytes} bytes = "
            f"<b>{c.bytes_per_token_per_layer:,} bytes per token per layer</b>; × {c.n_layers} layers = "
            f"<b>{size(c.bytes_per_token)} per token</b>.<br>Holding {c.tokens} tokens now: <b>{size(c.bytes_held)}</b> "
            f"(this stepper allocated {size(c.bytes_allocated)}; the full context window would take "
            f"{size(c.context_bytes)}).<br>{reuse}")


class StepperTab(QWidget):
    computed = Signal()  # a start or a step was shown

    def __init__(self, page, parent: QWidget | None = None):
        super().__init__(parent)
        self.page = page
        self.form = SamplingForm()
        self.form.set_values(DEFAULTS)
        self.as_chat = QCheckBox("Send the text as a chat message (chat template)")
        self.as_chat.setChecked(True)
        self.start_button = QPushButton("Start")
        self.step_button = QPushButton("Next token")
        self.ten_button = QPushButton("Next 10")
        self.start_button.clicked.connect(self.start)
        self.step_button.clicked.connect(lambda: self.step(1))
        self.ten_button.clicked.connect(lambda: self.step(10))
        settings = QGroupBox("Sampling")
        col = QVBoxLayout(settings)
        col.addWidget(self.form)
        col.addWidget(self.as_chat)
        buttons = QHBoxLayout()
        for b in (self.start_button, self.step_button, self.ten_button):
            buttons.addWidget(b)
        col.addLayout(buttons)
        col.addStretch(1)
        self.text_view = QLabel("Press Start: the text becomes the prompt, then each press adds one token.")
        self.text_view.setWordWrap(True)
        self.text_view.setTextFormat(Qt.TextFormat.RichText)
        self.text_view.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.text_view.setMinimumHeight(90)
        self.reason = QLabel(" ")
        self.reason.setWordWrap(True)
        self.bars = PairedBars(("model", "after the settings"))
        self.cache_label = QLabel(" ")
        self.cache_label.setWordWrap(True)
        right = QWidget()
        col = QVBoxLayout(right)
        col.addWidget(self.text_view)
        col.addWidget(self.reason)
        col.addWidget(self.bars)
        col.addWidget(self.cache_label)
        col.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(right)
        split = QSplitter()
        split.addWidget(settings)
        split.addWidget(scroll)
        split.setSizes([300, 720])
        QVBoxLayout(self).addWidget(split)
        self.started: Started | None = None
        self.steps: list[Step] = []
        self.cache: CacheInfo | None = None
        self._set_enabled()
        page.host.loading.connect(lambda _r: self.reset("The model changed; press Start again."))

    def refresh(self, _subject=None):
        if self.started is None:
            self.start()
        else:
            self.computed.emit()

    def reset(self, note: str):
        self.started, self.steps = None, []
        self.text_view.setText(note)
        self.reason.setText(" ")
        self.bars.set_rows([])
        self._set_enabled()

    def start(self):
        subject = self.page.subject()
        self.reset("Reading the prompt…")
        self.page.jobs.run("stepper", start_job(subject.text, self.as_chat.isChecked(), subject.special_tokens,
                                                self.form.sampling()),
                           "starting the generation", self._started, self._failed)

    def step(self, count: int):
        if self.started is None or (self.steps and self.steps[-1].finished):
            return
        self._set_enabled(busy=True)
        self.page.jobs.run("stepper", step_job(self.started.stepper, count), "generating", self._stepped,
                           self._failed)

    def _failed(self, message: str):
        self.page.show_error(message)
        self._set_enabled()

    def _set_enabled(self, busy: bool = False):
        can_step = self.started is not None and not busy and not (self.steps and self.steps[-1].finished)
        self.step_button.setEnabled(can_step)
        self.ten_button.setEnabled(can_step)

    def _started(self, started: Started):
        self.started, self.cache = started, started.cache
        self.text_view.setText(f"<span style='color:#6b7280'>…{html.escape(visible(started.prompt_tail))}</span>")
        self.reason.setText(f"Prompt read: {started.prompt_tokens} tokens. Press Next token.")
        self.cache_label.setText(cache_text(started.cache, started.prompt_tokens))
        self._set_enabled()
        self.computed.emit()

    def _stepped(self, stepped: Stepped):
        self.steps += stepped.steps
        self.cache = stepped.cache
        if self.steps:
            self.show_step(self.steps[-1])
        self.cache_label.setText(cache_text(stepped.cache, self.started.prompt_tokens))
        self._set_enabled()
        self.computed.emit()

    def show_step(self, step: Step):
        done = html.escape(visible(step.text[:len(step.text) - len(step.chosen.text)] if step.text.endswith(
            step.chosen.text) else step.text))
        last = html.escape(visible(step.chosen.text)) if step.text.endswith(step.chosen.text) else ""
        end = {"eos": " <i>(end of sequence: generation finished)</i>",
               "length": " <i>(max tokens reached)</i>"}.get(step.finished, "")
        self.text_view.setText(f"<span style='color:#6b7280'>…{html.escape(visible(self.started.prompt_tail[-80:]))}"
                               f"</span>{done}<span style='background:#fde68a'>{last}</span>{end}")
        self.reason.setText(f"<b>Token {step.index + 1}: {html.escape(repr(visible(step.chosen.text)))}</b> "
                            f"(id {step.chosen.id}) — {html.escape(step.reason)}")
        rows = [(c.text, c.prob, c.adjusted) for c in step.candidates]
        marked = next((i for i, c in enumerate(step.candidates) if c.id == step.chosen.id), -1)
        if marked < 0:
            rows.append((step.chosen.text, step.chosen.prob, step.chosen.adjusted))
            marked = len(rows) - 1
        self.bars.set_rows(rows, marked)
