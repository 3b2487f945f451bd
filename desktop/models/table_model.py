"""`ModelsTableModel`: the found models (`engine.library.ModelEntry`) as rows of a Qt table.

Columns for people (sizes and counts formatted) with a sort role holding the raw numbers, so
sorting by size or parameters is numeric; models glasslm cannot open are greyed, with why in
the tooltip. Only presents data.
"""
from __future__ import annotations

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtGui import QColor

from engine.library import SOURCES, ModelEntry
from engine.library.units import human_count, human_size

ENTRY_ROLE = Qt.ItemDataRole.UserRole  # the row's ModelEntry
SORT_ROLE = Qt.ItemDataRole.UserRole + 1  # raw value to sort by
COLUMNS = ("Name", "Source", "Format", "Architecture", "Parameters", "Quantization", "Size", "Context", "Opens in glasslm")
SOURCE_LABELS = {"shipped": "glasslm", "hf-cache": "Hugging Face cache", "lmstudio": "LM Studio", "ollama": "Ollama",
                 "gpt4all": "GPT4All", "folder": "added folder"}


class ModelsTableModel(QAbstractTableModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.entries: list[ModelEntry] = []

    def set_entries(self, entries: list[ModelEntry]):
        self.beginResetModel()
        self.entries = list(entries)
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.entries)

    def columnCount(self, parent=QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        entry = self.entries[index.row()]
        column = index.column()
        if role == ENTRY_ROLE:
            return entry
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(entry, column)
        if role == SORT_ROLE:
            source_order = SOURCES.index(entry.source) if entry.source in SOURCES else len(SOURCES)
            raw = (entry.name.lower(), source_order, entry.format, entry.architecture or "", entry.n_params or 0,
                   entry.quantization or "", entry.size_bytes, entry.context_length or 0, int(entry.can_open))
            return raw[column]
        if role == Qt.ItemDataRole.ToolTipRole:
            where = f"{entry.name}\n{entry.path}"
            return where if entry.can_open else f"{where}\nglasslm cannot open it: {entry.reason}"
        if role == Qt.ItemDataRole.ForegroundRole and not entry.can_open:
            return QColor("#9ca3af") if column != len(COLUMNS) - 1 else QColor("#b42318")
        if role == Qt.ItemDataRole.TextAlignmentRole and column in (4, 6, 7):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _text(entry: ModelEntry, column: int) -> str:
        return (entry.name, SOURCE_LABELS.get(entry.source, entry.source), entry.format, entry.architecture or "?",
                human_count(entry.n_params), entry.quantization or "?", human_size(entry.size_bytes),
                str(entry.context_length or "?"), "yes" if entry.can_open else f"no: {entry.reason}")[column]
