"""`ResultsView`: the results of one or more runs, read back from the history database.

Tabs: Metrics (a table of every metric with its 95% interval per run, and the same numbers
charted across runs), Calibration (reliability diagram), Prompt sensitivity (accuracy per
variant) and Items (every result, filterable, with the drill-down of the selected one).
Reports come from `queries.run_report` on a background task, exactly what
`glasslm eval show` prints; item rows from `History.results`. It starts no runs.
"""
from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView, QComboBox, QHBoxLayout, QLabel, QLineEdit, QScrollArea, QSplitter, QTableView, QTabWidget,
    QVBoxLayout, QWidget,
)

from evals.export import truncation_note
from history import History

from .charts import MetricGrid, VariantChart
from .item_detail import ItemDetail
from .queries import RunReport, run_label, run_reports
from .reliability_chart import ReliabilityChart
from .tables import ROW_ROLE, RowsModel, metric_columns, proxy, result_columns
from .tasks import Tasks

OVERALL = "overall"


def table_view(model, name: str) -> QTableView:
    view = QTableView()
    view.setObjectName(name)
    view.setModel(model)
    view.setSortingEnabled(True)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setAlternatingRowColors(True)
    view.verticalHeader().setVisible(False)
    view.horizontalHeader().setStretchLastSection(True)
    view.setWordWrap(False)
    view.verticalHeader().setDefaultSectionSize(24)
    view.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # rows as the store gives them
    return view


class ResultsView(QWidget):
    loaded = Signal()  # the reports of the runs asked for are shown
    error = Signal(str)

    def __init__(self, history: History, tasks: Tasks, parent: QWidget | None = None):
        super().__init__(parent)
        self.history, self.tasks = history, tasks
        self.reports: list[RunReport] = []
        self.results: list[dict] = []
        self.heading = QLabel("Results appear here when a run has finished.")
        self.heading.setObjectName("resultsHeading")
        self.heading.setWordWrap(True)
        self.part = QComboBox()
        self.part.currentIndexChanged.connect(self._show_metrics)
        self.metrics_model = RowsModel(metric_columns([]))
        self.metrics_table = table_view(proxy(self.metrics_model, self), "metricsTable")
        self.grid = MetricGrid()
        grid_scroll = QScrollArea()
        grid_scroll.setWidgetResizable(True)
        grid_scroll.setWidget(self.grid)
        metrics_tab = QSplitter(Qt.Orientation.Vertical)
        metrics_tab.addWidget(self.metrics_table)
        metrics_tab.addWidget(grid_scroll)
        metrics_tab.setSizes([220, 400])
        self.reliability = ReliabilityChart()
        self.variants = VariantChart()
        self.tabs = QTabWidget()
        self.tabs.addTab(metrics_tab, "Metrics")
        self.tabs.addTab(self.reliability, "Calibration")
        self.tabs.addTab(self.variants, "Prompt sensitivity")
        self.tabs.addTab(self._items_tab(), "Items")
        top = QHBoxLayout()
        top.addWidget(self.heading, 1)
        top.addWidget(QLabel("Part"))
        top.addWidget(self.part)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.tabs, 1)

    def _items_tab(self) -> QWidget:
        self.item_run = QComboBox()
        self.item_run.setObjectName("itemRun")
        self.item_run.currentIndexChanged.connect(self._load_items)
        self.outcome = QComboBox()
        self.outcome.addItems(["all", "right", "wrong"])
        self.outcome.currentIndexChanged.connect(self._fill_items)
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter items (id, output, expected, …)")
        self.items_model = RowsModel(result_columns())
        self.items_proxy = proxy(self.items_model, self)
        self.filter.textChanged.connect(self.items_proxy.setFilterFixedString)
        self.items_table = table_view(self.items_proxy, "itemsTable")
        self.items_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.items_table.selectionModel().currentRowChanged.connect(self._on_item)
        self.detail = ItemDetail()
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Run"))
        bar.addWidget(self.item_run, 2)
        bar.addWidget(self.outcome)
        bar.addWidget(self.filter, 2)
        left = QWidget()
        col = QVBoxLayout(left)
        col.setContentsMargins(0, 0, 0, 0)
        col.addLayout(bar)
        col.addWidget(self.items_table)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(self.detail)
        split.setSizes([600, 420])
        return split

    # ---- loading ------------------------------------------------------------------------------
    def set_runs(self, run_ids: list[int]):
        """Read these runs' reports (in the background) and show them."""
        ids = list(run_ids)
        if not ids:
            self._show([])
            return
        self.heading.setText(f"Reading {len(ids)} run{'s' if len(ids) > 1 else ''}…")
        self.tasks.submit("results", lambda: run_reports(self.history, ids), self._show, self._failed)

    def run_ids(self) -> list[int]:
        return [rr.run["id"] for rr in self.reports]

    def _failed(self, message: str):
        self.heading.setText("Could not read the results.")
        self.error.emit(message)

    def _show(self, reports: list[RunReport]):
        self.reports = reports
        self._fill_heading()
        parts = sorted({p for rr in reports if rr.report for p in rr.report.get("parts", {})})
        current = self.part.currentText()
        self.part.blockSignals(True)
        self.part.clear()
        self.part.addItems([OVERALL, *parts])
        self.part.setCurrentText(current if current in parts else OVERALL)
        self.part.blockSignals(False)
        self._show_metrics()
        labels = [run_label(rr.run) for rr in reports]
        with_report = [rr.report or {} for rr in reports]
        self.reliability.set_data(labels, [r.get("reliability") or [] for r in with_report],
                                  [r.get(OVERALL, {}).get("ece") for r in with_report])
        self._show_variants(labels, with_report)
        previous = self.item_run.currentData()
        self.item_run.blockSignals(True)
        self.item_run.clear()
        for rr, label in zip(reports, labels):
            self.item_run.addItem(label, rr.run["id"])
        index = self.item_run.findData(previous)
        self.item_run.setCurrentIndex(index if index >= 0 else 0)
        self.item_run.blockSignals(False)
        self._load_items()
        self.loaded.emit()

    def _fill_heading(self):
        if not self.reports:
            self.heading.setText("Results appear here when a run has finished.")
            return
        notes = [f"run {rr.run['id']} is {rr.run['status']} ({rr.run['n_done']}/{rr.run['n_items']} items; "
                 "metrics so far)" for rr in self.reports if rr.partial]
        notes += [f"run {rr.run['id']}: {truncation_note(rr.run)}" for rr in self.reports if truncation_note(rr.run)]
        n = len(self.reports)
        self.heading.setText(f"<b>{n} run{'s' if n > 1 else ''}</b> · metrics with 95% bootstrap intervals "
                             "over items" + ("<br><span style='color:#b45309'>" + "; ".join(notes) + "</span>"
                                             if notes else ""))

    def _show_metrics(self):
        part = self.part.currentText() or OVERALL
        groups = [((rr.report or {}).get(OVERALL, {}) if part == OVERALL
                   else (rr.report or {}).get("parts", {}).get(part, {})) for rr in self.reports]
        names: list[str] = []
        for g in groups:
            names += [n for n in g if n not in names]
        rows = [(name, [g.get(name) for g in groups]) for name in names]
        self.metrics_model.set_rows(rows, metric_columns([rr.run for rr in self.reports]))
        self.metrics_table.resizeColumnsToContents()
        charted = [row for row in rows if not row[0].startswith(("accuracy[", "drop_rate["))]
        self.grid.set_data([run_label(rr.run) for rr in self.reports], charted)

    def _show_variants(self, labels: list[str], reports: list[dict]):
        variants: list[str] = []
        for r in reports:
            variants += [n[len("accuracy["):-1] for n in r.get(OVERALL, {}) if n.startswith("accuracy[")
                         and n[len("accuracy["):-1] not in variants]
        values = [[r.get(OVERALL, {}).get(f"accuracy[{v}]") for r in reports] for v in variants]
        self.variants.set_data(labels, variants, values, [r.get(OVERALL, {}).get("variant_spread") for r in reports])

    # ---- items --------------------------------------------------------------------------------
    def _load_items(self):
        run_id = self.item_run.currentData()
        self.results = self.history.results(run_id) if run_id is not None else []
        self._fill_items()

    def _fill_items(self):
        wanted = self.outcome.currentText()
        rows = [r for r in self.results if wanted == "all" or r["correct"] is (wanted == "right")]
        self.items_model.set_rows(rows)
        self.items_table.resizeColumnsToContents()
        self.detail.show_result({}, None)

    def current_run(self) -> dict:
        run_id = self.item_run.currentData()
        return next((rr.run for rr in self.reports if rr.run["id"] == run_id), {})

    def _on_item(self, current, _previous):
        row = self.items_proxy.data(current, ROW_ROLE) if current.isValid() else None
        self.detail.show_result(self.current_run(), row)

    def select_item(self, item_id: str, variant: str = "", run_id: int | None = None) -> bool:
        """Show the Items tab with this item selected and drilled into; False if it is not listed."""
        if run_id is not None and run_id != self.item_run.currentData():
            self.item_run.setCurrentIndex(self.item_run.findData(run_id))
        self.tabs.setCurrentIndex(3)
        for row in range(self.items_proxy.rowCount()):
            index = self.items_proxy.index(row, 0)
            r = self.items_proxy.data(index, ROW_ROLE)
            if r["item_id"] == item_id and r["variant"] == variant:
                self.items_table.selectionModel().setCurrentIndex(
                    index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)
                self.items_table.scrollTo(index)
                return True
        return False
