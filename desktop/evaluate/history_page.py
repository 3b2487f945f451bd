"""The History page: every eval run in the database (from this window or the command line),
filterable and sortable; select one for its results, two or more for a side-by-side
comparison (metric deltas and flipped items), and export the selected runs as CSV, JSON,
Markdown or JSON lines (the same text `glasslm eval export` writes).

The runs table is a Qt model over `History.runs`; it re-reads the store whenever the page
is shown or Refresh is pressed. It starts no runs (the Evaluate page resumes them).
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView, QFileDialog, QHBoxLayout, QLabel, QLineEdit, QMenu, QPushButton, QSplitter, QTabWidget,
    QToolButton, QVBoxLayout, QWidget,
)

from evals.errors import USER_ERRORS
from evals.export import write_file

from ..message_bar import MessageBar
from ..pages import AppContext
from .compare_view import CompareView
from .queries import EXPORT_FORMATS, export_runs
from .results_view import ResultsView, table_view
from .tables import ROW_ROLE, RowsModel, proxy, run_columns
from .tasks import Tasks

RUNS_SHOWN = 1000


class HistoryPage(QWidget):
    exported = Signal(str)  # the path written

    def __init__(self, context: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("historyPage")
        self.history = context.history
        self.tasks = Tasks(self)
        self.message_bar = MessageBar()
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter runs (suite, model, precision, status, …)")
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.refresh)
        self.export_button = QToolButton()
        self.export_button.setText("Export…")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.export_button)
        for key, name in EXPORT_FORMATS.items():
            menu.addAction(name, lambda k=key: self._ask_export(k))
        self.export_button.setMenu(menu)
        self.selection_label = QLabel()
        self.runs_model = RowsModel(run_columns())
        self.runs_proxy = proxy(self.runs_model, self)
        self.filter.textChanged.connect(self.runs_proxy.setFilterFixedString)
        self.runs_table = table_view(self.runs_proxy, "runsTable")
        self.runs_table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.runs_table.sortByColumn(0, Qt.SortOrder.DescendingOrder)
        self.runs_table.selectionModel().selectionChanged.connect(self._on_selection)
        self.results = ResultsView(self.history, self.tasks)
        self.compare = CompareView(self.history, self.tasks)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.results, "Results")
        self.tabs.addTab(self.compare, "Compare")
        for view in (self.results, self.compare):
            view.error.connect(self.message_bar.show_error)

        bar = QHBoxLayout()
        bar.addWidget(self.filter, 1)
        bar.addWidget(self.selection_label)
        bar.addWidget(refresh)
        bar.addWidget(self.export_button)
        top = QWidget()
        col = QVBoxLayout(top)
        col.setContentsMargins(0, 0, 0, 0)
        col.addLayout(bar)
        col.addWidget(self.runs_table)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(top)
        split.addWidget(self.tabs)
        split.setSizes([260, 600])
        layout = QVBoxLayout(self)
        layout.addWidget(self.message_bar)
        layout.addWidget(split, 1)
        self._selected: list[int] = []
        self.refresh()

    def showEvent(self, event):
        self.refresh()
        super().showEvent(event)

    def shutdown(self):
        self.tasks.shutdown()

    # ---- runs ---------------------------------------------------------------------------------
    def refresh(self):
        keep = list(self._selected)
        try:
            runs = self.history.runs(limit=RUNS_SHOWN)
        except USER_ERRORS as err:
            self.message_bar.show_error(str(err))
            return
        before = {r["id"]: r for r in self.runs_model.rows if r["id"] in keep}
        if any(before.get(r["id"]) != r for r in runs if r["id"] in keep):
            self._selected = []  # a selected run moved on (more items, finished): read it again
        self.runs_table.selectionModel().blockSignals(True)
        self.runs_model.set_rows(runs)
        self.runs_table.selectionModel().blockSignals(False)
        self.runs_table.resizeColumnsToContents()
        self.select_runs(keep)

    def select_runs(self, run_ids: list[int]):
        """Select exactly these runs (shown in the Results and, for two or more, the Compare tab)."""
        sel = self.runs_table.selectionModel()
        sel.blockSignals(True)
        self.runs_table.clearSelection()
        for row in range(self.runs_proxy.rowCount()):
            index = self.runs_proxy.index(row, 0)
            if self.runs_proxy.data(index, ROW_ROLE)["id"] in run_ids:
                sel.select(index, sel.SelectionFlag.Select | sel.SelectionFlag.Rows)
        sel.blockSignals(False)
        self._on_selection()

    def selected_runs(self) -> list[int]:
        """Selected run ids, oldest first: the oldest is A in comparisons."""
        rows = self.runs_table.selectionModel().selectedRows()
        return sorted(self.runs_proxy.data(index, ROW_ROLE)["id"] for index in rows)

    def _on_selection(self, *_):
        ids = self.selected_runs()
        if ids == self._selected and (ids or not self.results.reports):
            return
        self._selected = ids
        n = len(ids)
        self.selection_label.setText(f"{n} selected" if n else "")
        self.export_button.setEnabled(bool(ids))
        self.results.set_runs(ids)
        self.compare.set_runs(ids)
        self.tabs.setTabEnabled(1, n >= 2)
        self.tabs.setCurrentIndex(1 if n >= 2 else 0)

    # ---- export -------------------------------------------------------------------------------
    def export_runs_to(self, run_ids: list[int], fmt_name: str, path: str | Path):
        """Write the runs in the background; `exported(path)` when done, an error message otherwise."""
        path = Path(path)

        def work() -> str:
            text = export_runs(self.history, run_ids, fmt_name)
            write_file(path, text, history_path=self.history.path)  # atomic; never over an SQLite file
            return str(path)

        self.tasks.submit(f"export-{path}", work, self._on_exported, self.message_bar.show_error)

    def _on_exported(self, path: str):
        self.message_bar.show_info(f"Exported to {path}")
        self.exported.emit(path)

    def _ask_export(self, fmt_name: str):
        ids = self.selected_runs()
        if not ids:
            self.message_bar.show_error("select one or more runs to export")
            return
        name = f"glasslm-runs-{'-'.join(map(str, ids[:4]))}.{fmt_name}"
        path, _ = QFileDialog.getSaveFileName(self, f"Export as {EXPORT_FORMATS[fmt_name]}", name)
        if path:
            self.export_runs_to(ids, fmt_name, path)
