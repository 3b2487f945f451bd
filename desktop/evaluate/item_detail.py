"""`ItemDetail`: one item's result in full: the prompt as sent, the output, the expected
answer, the score (and every per-item score), and the probability of each choice; "Open
inside" sends the prompt and answer to the Inside page (token, attention and logit-lens views).

It shows one stored result row (plus its run, for choice labels); it reads nothing else.
"""
from __future__ import annotations

import json

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QFormLayout, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout,
    QWidget,
)

from evals.export import fmt

from .queries import choice_rows

EXPECTED = QColor("#dcfce7")  # background of the expected choice; the model's pick is bold


def _text_box(name: str, height: int) -> QPlainTextEdit:
    box = QPlainTextEdit()
    box.setObjectName(name)
    box.setReadOnly(True)
    box.setMaximumHeight(height)
    box.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
    return box


class ItemDetail(QWidget):
    inside_requested = Signal(dict)  # {"prompt", "answer", "title"} of the shown item

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.title = QLabel("Select an item to see its prompt, output and choice probabilities.")
        self.title.setObjectName("itemTitle")
        self.title.setWordWrap(True)
        self.prompt = _text_box("itemPrompt", 150)
        self.output = _text_box("itemOutput", 80)
        self.expected = QLabel()
        self.expected.setWordWrap(True)
        self.expected.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.score = QLabel()
        self.score.setWordWrap(True)
        self.score.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.choices = QTableWidget(0, 3)
        self.choices.setObjectName("itemChoices")
        self.choices.setHorizontalHeaderLabels(["choice", "log-prob", "probability"])
        header = self.choices.horizontalHeader()
        header.setSectionResizeMode(0, header.ResizeMode.Stretch)
        for col in (1, 2):
            header.setSectionResizeMode(col, header.ResizeMode.ResizeToContents)
        self.choices.verticalHeader().setVisible(False)
        self.choices.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        form = QFormLayout()
        form.addRow("Prompt as sent", self.prompt)
        form.addRow("Output", self.output)
        form.addRow("Expected", self.expected)
        form.addRow("Score", self.score)
        form.addRow("Choices", self.choices)
        self.legend = QLabel("<span style='background:#dcfce7'>&nbsp;expected&nbsp;</span>  <b>model's answer</b>")
        form.addRow("", self.legend)
        self.inside_button = QPushButton("Open inside")
        self.inside_button.setToolTip("See this prompt and the model's answer token by token, layer by layer and "
                                      "head by head on the Inside page (with the model loaded in Chat)")
        self.inside_button.clicked.connect(self._open_inside)
        self.inside_button.setEnabled(False)
        top = QHBoxLayout()
        top.addWidget(self.title, 1)
        top.addWidget(self.inside_button)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addLayout(form)
        self.result: dict | None = None

    def show_result(self, run: dict, result: dict | None):
        self.result = result
        self.inside_button.setEnabled(bool(result and (result.get("prompt") or result.get("output"))))
        if result is None:
            self.title.setText("Select an item to see its prompt, output and choice probabilities.")
            for box in (self.prompt, self.output):
                box.clear()
            self.expected.clear()
            self.score.clear()
            self.choices.setRowCount(0)
            return
        variant = f" · variant {result['variant']}" if result["variant"] else ""
        outcome = {True: "right", False: "wrong", None: "not graded"}[result["correct"]]
        self.title.setText(f"<b>{result['item_id']}</b>{variant} · {result['kind']} · part {result['part']}"
                           f" · <b>{outcome}</b>")
        prompt = result["prompt"]
        if prompt is None and result["kind"] == "minimal_pair":
            prompt = "(no prompt: each sentence is scored on its own, from the BOS token)"
        self.prompt.setPlainText(prompt or "")
        self.output.setPlainText("" if result["output"] is None else str(result["output"]))
        self.expected.setText("-" if result["expected"] is None else str(result["expected"]))
        extras = " · ".join(f"{k} {_value(v)}" for k, v in (result.get("scores") or {}).items() if k != "samples")
        self.score.setText(f"<b>{fmt(result['score'])}</b>  <span style='color:#6b7280'>{_escape(extras)}</span>")
        rows = choice_rows(run, result)
        picked = (result.get("scores") or {}).get("pred")
        self.choices.setRowCount(len(rows))
        for i, (label, logprob, prob) in enumerate(rows):
            cells = [label, f"{logprob:.3f}", "-" if prob is None else f"{prob:.3f}"]
            for j, text in enumerate(cells):
                cell = QTableWidgetItem(text)
                if label == result["expected"]:
                    cell.setBackground(EXPECTED)
                    cell.setToolTip("the expected answer")
                if i == picked:
                    font = cell.font()
                    font.setBold(True)
                    cell.setFont(font)
                    cell.setToolTip("the model's answer" + (" (expected)" if label == result["expected"] else ""))
                self.choices.setItem(i, j, cell)


    def _open_inside(self):
        r = self.result
        if not r:
            return
        output = "" if r.get("output") is None else str(r["output"])
        answer = (" " + output.lstrip()) if output and r.get("prompt") and not r["prompt"][-1:].isspace() else output
        variant = f" ({r['variant']})" if r.get("variant") else ""
        self.inside_requested.emit({"prompt": r.get("prompt") or "", "answer": answer,
                                    "title": f"item {r['item_id']}{variant}"})


def _value(v) -> str:
    if isinstance(v, (list, dict)):
        return json.dumps(v, ensure_ascii=False, default=str)
    return fmt(v)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
