"""The Quantization view: fewer bits per weight, slightly different predictions. The current
text under the loaded precision and a second one side by side: each token's log-probability
under both, the difference, and the tokens where the top choice changes.

The second precision is loaded on the model worker for the comparison and freed right after
(`engine.inside.compare.compare_precisions`); this file only asks and shows.
"""
from __future__ import annotations

import html

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QTableWidget, QTableWidgetItem, \
    QVBoxLayout, QWidget

import engine
from engine.inside.compare import PrecisionComparison, compare_precisions

from ..inspect.token_view import visible
from .subject import subject_tokens

CHANGED = QColor("#fde68a")


def compare_job(subject, precision: str):
    def job(model, progress) -> PrecisionComparison:
        tokens = subject_tokens(model, subject)
        if precision == model.info.precision:
            raise engine.EngineError(f"the model is already loaded at {precision}; choose another precision")
        progress(f"loading {model.info.name or 'the model'} at {precision}…")
        other = engine.load(model.info.path, device=model.info.device, precision=precision)
        try:
            progress("comparing")
            return compare_precisions(model, other, tokens.ids)
        finally:
            other.close()
    return job


def difference_color(diff: float) -> QColor:
    """White for no change, deepening red as |difference| grows to 1 nat and beyond."""
    strength = min(abs(diff), 1.0)
    return QColor.fromHsvF(0.0, 0.6 * strength, 1.0)


class QuantTab(QWidget):
    computed = Signal()

    def __init__(self, page, parent: QWidget | None = None):
        super().__init__(parent)
        self.page = page
        self.precision = QComboBox()
        self.precision.addItems([p for p in engine.PRECISIONS if p != "auto"])
        self.precision.setCurrentText("nf4")
        run = QPushButton("Compare")
        run.clicked.connect(lambda: self.refresh(self.page.subject()))
        self.note = QLabel("Quantization stores weights in fewer bits (int8, nf4, fp4) to save memory. Compare "
                           "the loaded precision with another on the current text.")
        self.note.setWordWrap(True)
        self.table = QTableWidget(0, 6)
        self.table.setObjectName("quantTable")
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        row = QHBoxLayout()
        row.addWidget(QLabel("Compare the loaded precision with"))
        row.addWidget(self.precision)
        row.addWidget(run)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.note)
        layout.addWidget(self.table, 1)
        self.result: PrecisionComparison | None = None
        page.host.loaded.connect(self._choose_other)

    def _choose_other(self, loaded):
        """Compare a quantized model with fp32 (what its weights were before), an fp32 one with nf4."""
        self.precision.setCurrentText("nf4" if loaded.info.precision == "fp32" else "fp32")

    def refresh(self, subject):
        self.note.setText("Loading the second precision…")
        self.page.jobs.run("quant", compare_job(subject, self.precision.currentText()), "comparing precisions",
                           self._show, self._failed, self.note.setText)

    def _failed(self, message: str):
        self.note.setText(f"Could not compare: {html.escape(message)}")
        self.page.show_error(message)

    def _show(self, result: PrecisionComparison):
        self.result = result
        a, b = result.label_a, result.label_b
        changed = result.changed
        self.note.setText(
            f"<b>{a} vs {b}</b> over {len(result.tokens)} predicted tokens: mean |Δ log p| "
            f"{result.mean_abs_difference:.3f}, largest {result.max_abs_difference:.3f}, mean KL "
            f"{result.kl_mean:.4f} nats. The top choice changes at <b>{len(changed)}</b> of {len(result.tokens)} "
            "positions (highlighted): there, greedy decoding would write a different token.")
        self.table.setHorizontalHeaderLabels(["token", f"log p ({a})", f"log p ({b})", "Δ", f"top ({a})",
                                              f"top ({b})"])
        self.table.setRowCount(len(result.tokens))
        for i, t in enumerate(result.tokens):
            cells = [repr(visible(t.text)), f"{t.logprob_a:.3f}", f"{t.logprob_b:.3f}", f"{t.difference:+.3f}",
                     f"{visible(t.top_a[1])!r} {t.top_a[2]:.0%}", f"{visible(t.top_b[1])!r} {t.top_b[2]:.0%}"]
            for j, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if j == 3:
                    item.setBackground(difference_color(t.difference))
                elif j >= 4 and t.top_changed:
                    item.setBackground(CHANGED)
                self.table.setItem(i, j, item)
        self.table.resizeColumnsToContents()
        self.computed.emit()
