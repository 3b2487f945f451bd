"""`CompareView`: runs side by side: metric deltas with paired-bootstrap intervals, and the
items whose result flipped, each later run against the first (A).

The numbers are `queries.compare_runs`, i.e. `evals.report.compare` as `glasslm eval
compare` prints it, computed on a background task. It reads nothing else.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QLineEdit, QSplitter, QVBoxLayout, QWidget

from history import History

from .queries import Comparison, compare_runs, run_label, run_title
from .results_view import table_view
from .tables import RowsModel, delta_columns, flip_columns, proxy
from .tasks import Tasks


class CompareView(QWidget):
    loaded = Signal()
    error = Signal(str)

    def __init__(self, history: History, tasks: Tasks, parent: QWidget | None = None):
        super().__init__(parent)
        self.history, self.tasks = history, tasks
        self.comparisons: list[Comparison] = []
        self.heading = QLabel("Select two or more runs to compare them.")
        self.heading.setObjectName("compareHeading")
        self.heading.setWordWrap(True)
        self.heading.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.deltas_model = RowsModel(delta_columns())
        self.deltas_table = table_view(proxy(self.deltas_model, self), "deltasTable")
        self.flips_model = RowsModel(flip_columns())
        self.flips_proxy = proxy(self.flips_model, self)
        self.flips_table = table_view(self.flips_proxy, "flipsTable")
        self.flips_heading = QLabel()
        self.flips_filter = QLineEdit()
        self.flips_filter.setPlaceholderText("Filter flipped items")
        self.flips_filter.textChanged.connect(self.flips_proxy.setFilterFixedString)
        flips = QWidget()
        col = QVBoxLayout(flips)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(self.flips_heading)
        col.addWidget(self.flips_filter)
        col.addWidget(self.flips_table)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.deltas_table)
        split.addWidget(flips)
        split.setSizes([300, 300])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.heading)
        layout.addWidget(split, 1)

    def set_runs(self, run_ids: list[int]):
        ids = list(run_ids)
        if len(ids) < 2:
            self._show([])
            return
        self.heading.setText(f"Comparing {len(ids)} runs (paired bootstrap over common items)…")
        self.tasks.submit("compare", lambda: compare_runs(self.history, ids), self._show, self._failed)

    def _failed(self, message: str):
        self.heading.setText("Could not compare these runs.")
        self.error.emit(message)

    def _show(self, comparisons: list[Comparison]):
        self.comparisons = comparisons
        if not comparisons:
            self.heading.setText("Select two or more runs to compare them.")
            self.deltas_model.set_rows([])
            self.flips_model.set_rows([])
            self.flips_heading.clear()
            self.loaded.emit()
            return
        a = comparisons[0].a
        lines = [f"<b>A</b> = {_escape(run_title(a))}"]
        lines += [f"<b>B</b> = {_escape(run_title(c.b))}" for c in comparisons]
        notes = [f"run {c.b['id']} is on suite {c.b['suite_id']}, run {a['id']} on {a['suite_id']}: only items "
                 "with the same ids are paired" for c in comparisons if c.b["suite_id"] != a["suite_id"]]
        self.heading.setText("<br>".join(lines + [f"<span style='color:#b45309'>{_escape(n)}</span>" for n in notes]))
        deltas, flips = [], []
        for c in comparisons:
            label = run_label(c.b)
            deltas += [(label, name, d) for name, d in c.diff["deltas"].items()]
            flips += [(label, f) for f in c.diff["flipped"]]
        self.deltas_model.set_rows(deltas)
        for table in (self.deltas_table, self.flips_table):  # the "B" column says which run when there are several
            table.setColumnHidden(1 if table is self.deltas_table else 0, len(comparisons) == 1)
        self.deltas_table.resizeColumnsToContents()
        self.flips_model.set_rows(flips)
        self.flips_table.resizeColumnsToContents()
        self.flips_heading.setText(f"<b>{len(flips)} item result{'s' if len(flips) != 1 else ''} flipped</b> "
                                   "(right ↔ wrong; minimal pairs: which sentence is preferred)")
        self.loaded.emit()


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
