"""The "Check this answer" view (a tab of the Chat page): how far a reply can be trusted, by
asking the model again. It shows a check's summary, the reply with each sentence marked as
supported or not by the sampled answers and the model's own low-probability spans underlined,
each sentence's scores, and the samples themselves.

`check_job` is what runs on the model worker (`engine.inside.selfcheck.check_answer`); the
Chat page keeps the result in the history. This file only draws and asks.
"""
from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QSpinBox, QSplitter, QTableWidget, QTableWidgetItem,
    QTextBrowser, QVBoxLayout, QWidget,
)

from engine.inside.selfcheck import SUPPORTED, AnswerCheck, check_answer

SUPPORTED_BG, UNSUPPORTED_BG = "#dcfce7", "#fecaca"
TEMPERATURE = 0.8  # samples are drawn at this temperature (top-p 0.95), seeded


def check_job(before: list[dict], reply_ids: list[int], content: str, n: int, seed: int):
    """The job for the model worker: sample n answers to `before` and score the reply against them."""
    def job(model, progress) -> AnswerCheck:
        ids = list(reply_ids) or model.tokenizer.encode(content)
        return check_answer(model, before, ids, n=n, temperature=TEMPERATURE, seed=seed,
                            progress=lambda i, total: progress(f"sampling answer {i + 1} of {total}…"))
    return job


def marked_reply(check: AnswerCheck) -> str:
    """The reply as HTML: sentences on green (supported) or red (not), low-probability spans underlined."""
    text = check.answer
    starts = {s.start: s for s in check.sentences}
    ends = {s.end for s in check.sentences}
    low_starts = {span.char_start for span in check.low_spans}
    low_ends = {span.char_end for span in check.low_spans}
    out = []
    for i, char in enumerate(text + "\0"):
        if i in low_ends:
            out.append("</u>")
        if i in ends:
            out.append("</span>")
        if i == len(text):
            break
        if i in starts:
            s = starts[i]
            color = SUPPORTED_BG if s.supported else UNSUPPORTED_BG
            out.append(f"<span style='background:{color}' title='support {s.support:.0%}'>")
        if i in low_starts:
            out.append("<u style='text-decoration-color:#b91c1c'>")
        out.append("<br>" if char == "\n" else html.escape(char))
    return "".join(out)


class CheckView(QWidget):
    run_requested = Signal(int, int)  # samples, seed

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = QLabel("Choose “Check” under a reply: the model answers the same conversation again "
                            "several times, and sentences the samples do not repeat are marked.")
        self.title.setWordWrap(True)
        self.samples_box = QSpinBox()
        self.samples_box.setRange(2, 20)
        self.samples_box.setValue(5)
        self.seed_box = QSpinBox()
        self.seed_box.setRange(0, 2**31 - 1)
        self.run_button = QPushButton("Check again")
        self.run_button.setEnabled(False)
        self.run_button.clicked.connect(lambda: self.run_requested.emit(self.samples_box.value(),
                                                                        self.seed_box.value()))
        self.status = QLabel(" ")
        self.status.setWordWrap(True)
        self.reply = QTextBrowser()
        self.reply.setObjectName("checkedReply")
        self.sentences = QTableWidget(0, 3)
        self.sentences.setHorizontalHeaderLabels(["sentence", "support", "unigram max"])
        self.sentences.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.sentences.verticalHeader().setVisible(False)
        self.sentences.setWordWrap(True)
        header = self.sentences.horizontalHeader()
        header.setSectionResizeMode(0, header.ResizeMode.Stretch)
        for column in (1, 2):
            header.setSectionResizeMode(column, header.ResizeMode.ResizeToContents)
        self.samples = QPlainTextEdit()
        self.samples.setReadOnly(True)
        self.method = QLabel(" ")
        self.method.setWordWrap(True)
        self.method.setStyleSheet("color: #6b7280; font-size: 11px;")
        row = QHBoxLayout()
        row.addWidget(QLabel("Samples"))
        row.addWidget(self.samples_box)
        row.addWidget(QLabel("Seed"))
        row.addWidget(self.seed_box)
        row.addStretch(1)
        row.addWidget(self.run_button)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.reply)
        split.addWidget(self.sentences)
        split.addWidget(self.samples)
        split.setSizes([150, 170, 280])
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(split, 1)
        layout.addWidget(self.method)
        self.check: AnswerCheck | None = None
        self.message_id: int | None = None

    def set_message(self, message_id: int):
        self.message_id = message_id
        self.run_button.setEnabled(True)
        self.title.setText(f"<b>Reply {message_id}</b>")

    def show_progress(self, text: str):
        self.status.setText(text)
        self.run_button.setEnabled(False)

    def show_error(self, message: str):
        self.status.setText(f"Could not check this reply: {html.escape(message)}")
        self.run_button.setEnabled(self.message_id is not None)

    def show_check(self, check: AnswerCheck, when: str = ""):
        self.check = check
        self.run_button.setEnabled(self.message_id is not None)
        s = check.settings
        drawn = (f"{len(check.samples)} samples at temperature {s.get('temperature', '?')}, top-p {s.get('top_p', '?')}, "
                 f"seeds {s.get('seeds', ['?'])[0]}…{s.get('seeds', ['?'])[-1]} by {s.get('model', 'the model')} "
                 f"({s.get('precision', '')})")
        self.status.setText(f"<b>{html.escape(check.summary())}</b><br>{html.escape(drawn)}"
                            + (f" · checked {html.escape(when[:19].replace('T', ' '))} UTC" if when else "")
                            + f"<br><span style='background:{SUPPORTED_BG}'>&nbsp;supported&nbsp;</span> "
                            f"<span style='background:{UNSUPPORTED_BG}'>&nbsp;not repeated by the samples "
                            f"(support &lt; {SUPPORTED:.0%})&nbsp;</span> <u>low probability</u>")
        self.reply.setHtml(marked_reply(check))
        self.sentences.setRowCount(len(check.sentences))
        for i, sentence in enumerate(check.sentences):
            cells = [sentence.text, f"{sentence.support:.0%}", f"{sentence.unigram_max:.2f}"]
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if j == 0:
                    item.setToolTip("support per sample: " + ", ".join(f"{v:.0%}" for v in sentence.per_sample))
                if j == 1:
                    item.setBackground(QColor(SUPPORTED_BG if sentence.supported else UNSUPPORTED_BG))
                self.sentences.setItem(i, j, item)
        self.sentences.resizeRowsToContents()
        self.samples.setPlainText("\n\n".join(f"Sample {i + 1}:\n{text}" for i, text in enumerate(check.samples)))
        self.method.setText(f"Method: {check.method}.")
