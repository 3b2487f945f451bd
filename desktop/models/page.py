"""The Models page: every model on this machine in one table, with Open, Download and added folders.

It shows what `LibraryHost` scanned (the Hugging Face cache, LM Studio, Ollama, GPT4All, added
folders, the shipped models), filters and sorts it, and says what was found but not listed
(half-written downloads) and why. Open asks the main window to load the model in Chat; a model
glasslm cannot open says why instead. Download opens `DownloadDialog`. It reads no files itself.
"""
from __future__ import annotations

from PySide6.QtCore import QSortFilterProxyModel, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView, QFileDialog, QHBoxLayout, QHeaderView, QInputDialog, QLabel, QLineEdit, QPushButton,
    QTableView, QVBoxLayout, QWidget,
)

from engine.library import Library, ModelEntry

from ..message_bar import MessageBar
from .download_dialog import DownloadDialog
from .library_host import LibraryHost
from .table_model import ENTRY_ROLE, SORT_ROLE, ModelsTableModel


class ModelsPage(QWidget):
    open_requested = Signal(str)  # a model path for the Chat page to load

    def __init__(self, context=None, library: LibraryHost | None = None, endpoint: str | None = None,
                 parent: QWidget | None = None):
        """context: the window's AppContext (unused today, kept for the page signature);
        library: the shared scan (default: a new one of this machine); endpoint: the Hub for downloads."""
        super().__init__(parent)
        self.setObjectName("modelsPage")
        self.library = library or LibraryHost()
        self.endpoint = endpoint
        self.dialog: DownloadDialog | None = None
        self.message_bar = MessageBar()
        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter by name, source, architecture…")
        self.filter.setClearButtonEnabled(True)
        self.refresh_button = QPushButton("Refresh")
        self.add_button = QPushButton("Add folder…")
        self.remove_button = QPushButton("Remove folder…")
        self.download_button = QPushButton("Download…")
        self.open_button = QPushButton("Open")
        self.open_button.setEnabled(False)
        self.model = ModelsTableModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(SORT_ROLE)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.proxy.setFilterKeyColumn(-1)
        self.table = QTableView()
        self.table.setObjectName("modelsTable")
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(1, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # long Hub names keep both ends
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        self.table.setColumnWidth(0, 380)
        self.summary = QLabel("Looking for models…")
        self.summary.setObjectName("modelsSummary")
        self.not_listed = QLabel()
        self.not_listed.setObjectName("modelsNotListed")
        self.not_listed.setWordWrap(True)
        self.not_listed.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.not_listed.setVisible(False)

        bar = QHBoxLayout()
        bar.addWidget(self.filter, 1)
        for button in (self.refresh_button, self.add_button, self.remove_button, self.download_button,
                       self.open_button):
            bar.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.message_bar)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.summary)
        layout.addWidget(self.not_listed)

        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.refresh_button.clicked.connect(self.library.refresh)
        self.add_button.clicked.connect(self._ask_folder)
        self.remove_button.clicked.connect(self._ask_remove)
        self.download_button.clicked.connect(self.show_download)
        self.open_button.clicked.connect(self.open_selected)
        self.table.doubleClicked.connect(lambda _index: self.open_selected())
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.library.scanning.connect(lambda: self.summary.setText("Looking for models…"))
        self.library.scanned.connect(self.show_library)
        self.library.failed.connect(self.message_bar.show_error)
        if self.library.library is not None:
            self.show_library(self.library.library)

    # ---- showing ----------------------------------------------------------------------------
    def show_library(self, library: Library):
        self.model.set_entries(library.models)
        self.proxy.sort(self.proxy.sortColumn(), self.proxy.sortOrder())
        openable = sum(m.can_open for m in library.models)
        text = f"{len(library.models)} models on this machine, {openable} of them open in glasslm"
        if library.folders:
            text += " · added folders: " + ", ".join(library.folders)
        self.summary.setText(text)
        lines = [f"• {s.name} ({s.source}): {s.reason}" for s in library.skipped]
        lines += [f"• {note}" for note in library.notes]
        self.not_listed.setText(("<b>Found but not listed</b> (half-written or damaged):<br>" if library.skipped else "")
                                + "<br>".join(_escape(line) for line in lines))
        self.not_listed.setVisible(bool(lines))
        self._selection_changed()

    def selected(self) -> ModelEntry | None:
        rows = self.table.selectionModel().selectedRows()
        return self.proxy.data(rows[0], ENTRY_ROLE) if rows else None

    def select_path(self, path: str) -> bool:
        for row in range(self.proxy.rowCount()):
            if self.proxy.data(self.proxy.index(row, 0), ENTRY_ROLE).path == path:
                self.table.selectRow(row)
                return True
        return False

    # ---- actions ----------------------------------------------------------------------------
    def open_selected(self):
        entry = self.selected()
        if entry is None:
            return
        if not entry.can_open:
            self.message_bar.show_error(f"glasslm cannot open {entry.name}: {entry.reason}")
            return
        self.open_requested.emit(entry.path)

    def show_download(self) -> DownloadDialog:
        if self.dialog is None:
            self.dialog = DownloadDialog(self, endpoint=self.endpoint)
            self.dialog.downloaded.connect(lambda _path: self.library.refresh())
            self.dialog.open_requested.connect(self.open_requested)
        self.dialog.show()
        self.dialog.raise_()
        return self.dialog

    def add_folder(self, folder: str):
        problem = self.library.add_folder(folder)
        if problem:
            self.message_bar.show_error(problem)

    def remove_folder(self, folder: str):
        problem = self.library.remove_folder(folder)
        if problem:
            self.message_bar.show_error(problem)

    def shutdown(self):
        if self.dialog is not None:
            self.dialog.shutdown()
        self.library.shutdown()

    def showEvent(self, event):
        self.library.ensure_scanned()  # the first look at the page scans, if the app has not yet
        super().showEvent(event)

    # ---- helpers ----------------------------------------------------------------------------
    def _selection_changed(self, *_args):
        entry = self.selected()
        self.open_button.setEnabled(entry is not None)
        self.open_button.setToolTip("" if entry is None or entry.can_open else f"glasslm cannot open it: {entry.reason}")

    def _ask_folder(self):
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of models (model folders or .gguf files)")
        if folder:
            self.add_folder(folder)

    def _ask_remove(self):
        folders = (self.library.library.folders if self.library.library else [])
        if not folders:
            self.message_bar.show_info("No folders were added; Add folder… adds one.")
            return
        folder, ok = QInputDialog.getItem(self, "Remove an added folder", "Stop looking in:", folders, 0, False)
        if ok and folder:
            self.remove_folder(folder)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
