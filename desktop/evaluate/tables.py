"""Qt table models over what the history store returns: runs, item results, metrics per run,
metric deltas and flipped items.

`RowsModel` is one QAbstractTableModel over a list of plain rows, described by `Column`s
(header, text, sort key, optional colour and tooltip); the functions below are the column
sets of each table. Views sort and filter through `proxy()` (a QSortFilterProxyModel that
sorts by the raw values, not the text). Nothing here queries the database or computes a
metric: rows arrive already read by `queries.py`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor

from evals.export import fmt

from .queries import estimate_text, run_label

SORT_ROLE = Qt.ItemDataRole.UserRole
ROW_ROLE = Qt.ItemDataRole.UserRole + 1
GOOD, BAD, MUTED = QColor("#15803d"), QColor("#b91c1c"), QColor("#6b7280")


@dataclass(frozen=True)
class Column:
    title: str
    text: Callable[[Any], str]
    sort: Callable[[Any], Any] | None = None  # default: the text
    color: Callable[[Any], QColor | None] | None = None
    tooltip: Callable[[Any], str] | None = None


class RowsModel(QAbstractTableModel):
    def __init__(self, columns: list[Column], rows: list | None = None, parent=None):
        super().__init__(parent)
        self.columns, self.rows = columns, list(rows or [])

    def set_rows(self, rows: list, columns: list[Column] | None = None):
        self.beginResetModel()
        self.rows = list(rows)
        if columns is not None:
            self.columns = columns
        self.endResetModel()

    def rowCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.columns[section].title
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row, col = self.rows[index.row()], self.columns[index.column()]
        if role == Qt.ItemDataRole.DisplayRole:
            return col.text(row)
        if role == SORT_ROLE:
            key = col.sort(row) if col.sort else col.text(row)
            return float("-inf") if key is None else key
        if role == ROW_ROLE:
            return row
        if role == Qt.ItemDataRole.ForegroundRole and col.color:
            return col.color(row)
        if role == Qt.ItemDataRole.ToolTipRole:
            return col.tooltip(row) if col.tooltip else col.text(row)
        return None

    def row_at(self, index: QModelIndex):
        return index.data(ROW_ROLE)


def proxy(model: RowsModel, parent=None) -> QSortFilterProxyModel:
    """Sort by raw values; filter on every column, case-insensitively."""
    p = QSortFilterProxyModel(parent)
    p.setSourceModel(model)
    p.setSortRole(SORT_ROLE)
    p.setFilterKeyColumn(-1)
    p.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    return p


def _short(text: Any, n: int = 80) -> str:
    text = "" if text is None else str(text).replace("\n", " ⏎ ")
    return text if len(text) <= n else text[: n - 1] + "…"


def _outcome(value) -> str:
    return "-" if value is None else ("right" if value else "wrong") if isinstance(value, bool) else fmt(value)


# ---- column sets ---------------------------------------------------------------------------------

def run_columns() -> list[Column]:
    def headline(r):
        overall = (r.get("metrics") or {}).get("overall") or {}
        name = next(iter(overall), None)
        return f"{name} {estimate_text(overall[name])}" if name else ""

    status_color = {"finished": None, "running": QColor("#1d4ed8"), "interrupted": QColor("#b45309"),
                    "failed": BAD}
    return [
        Column("run", lambda r: str(r["id"]), lambda r: r["id"]),
        Column("status", lambda r: r["status"], color=lambda r: status_color.get(r["status"]),
               tooltip=lambda r: r.get("error") or r["status"]),
        Column("suite", lambda r: f"{r['suite_id']} v{r['suite_version']}"),
        Column("model", lambda r: Path(r.get("model_path") or "?").name, tooltip=lambda r: r.get("model_path") or ""),
        Column("precision", lambda r: str((r.get("settings") or {}).get("precision", "?"))),
        Column("T", lambda r: str((r.get("settings") or {}).get("temperature", "?")),
               lambda r: (r.get("settings") or {}).get("temperature")),
        Column("seed", lambda r: str(r["seed"]), lambda r: r["seed"]),
        Column("items", lambda r: f"{r['n_done']}/{r['n_items']}", lambda r: r["n_done"]),
        Column("headline (95% CI)", headline),
        Column("started (UTC)", lambda r: r["started_at"][:19].replace("T", " "), lambda r: r["started_at"]),
    ]


def result_columns() -> list[Column]:
    return [
        Column("item", lambda r: r["item_id"]),
        Column("variant", lambda r: r["variant"] or ""),
        Column("part", lambda r: r["part"]),
        Column("category", lambda r: r.get("category") or ""),
        Column("result", lambda r: _outcome(r["correct"]), lambda r: -1 if r["correct"] is None else int(r["correct"]),
               color=lambda r: None if r["correct"] is None else GOOD if r["correct"] else BAD),
        Column("score", lambda r: fmt(r["score"]), lambda r: r["score"]),
        Column("output", lambda r: _short(r["output"]), tooltip=lambda r: str(r["output"] or "")),
        Column("expected", lambda r: _short(r["expected"]), tooltip=lambda r: str(r["expected"] or "")),
        Column("latency (s)", lambda r: fmt(r.get("latency_s")), lambda r: r.get("latency_s")),
    ]


def metric_columns(runs: list[dict]) -> list[Column]:
    """Rows are (metric name, [estimate or None per run]); one column per run."""
    cols = [Column("metric", lambda row: row[0])]
    for i, run in enumerate(runs):
        cols.append(Column(
            run_label(run),
            lambda row, i=i: estimate_text(row[1][i]),
            lambda row, i=i: (row[1][i] or {}).get("value"),
            tooltip=lambda row, i=i: f"{row[0]}: {estimate_text(row[1][i])}, n = {(row[1][i] or {}).get('n', 0)}"))
    return cols


def _verdict(d: dict) -> str:
    if d["low"] is None or d["delta"] is None:
        return "-"
    if d["low"] <= 0 <= d["high"]:
        return "no clear change"
    up = d["low"] > 0
    if d["higher_is_better"] is None:
        return "higher" if up else "lower"
    return "better" if up == d["higher_is_better"] else "worse"


def delta_columns() -> list[Column]:
    """Rows are (B run label, metric name, delta dict from evals.report.compare)."""
    def color(row):
        verdict = _verdict(row[2])
        return GOOD if verdict == "better" else BAD if verdict == "worse" else None

    return [
        Column("metric", lambda row: row[1]),
        Column("B", lambda row: row[0]),
        Column("A value", lambda row: fmt(row[2]["a"]), lambda row: row[2]["a"]),
        Column("B value", lambda row: fmt(row[2]["b"]), lambda row: row[2]["b"]),
        Column("B − A", lambda row: fmt(row[2]["delta"]), lambda row: row[2]["delta"], color=color),
        Column("95% CI (paired)", lambda row: "-" if row[2]["low"] is None else
               f"[{fmt(row[2]['low'])}, {fmt(row[2]['high'])}]", lambda row: row[2]["low"]),
        Column("items", lambda row: str(row[2]["n_common"]), lambda row: row[2]["n_common"]),
        Column("verdict", lambda row: _verdict(row[2]), color=color),
    ]


def _improved(flip: dict) -> bool:
    """A flip for the better: wrong to right, or (minimal pairs) away from the stereotype."""
    if flip["kind"] == "minimal_pair":
        return bool(flip["before"]) and not flip["after"]
    return bool(flip["after"]) and not flip["before"]


def flip_columns() -> list[Column]:
    """Rows are (B run label, flip dict from evals.report.flipped)."""
    def change(row):
        f = row[1]
        if f["kind"] == "minimal_pair":
            return f"{'more' if f['before'] else 'less'} → {'more' if f['after'] else 'less'} stereotyped"
        return f"{_outcome(f['before'])} → {_outcome(f['after'])}"

    return [
        Column("B", lambda row: row[0]),
        Column("item", lambda row: row[1]["item_id"]),
        Column("variant", lambda row: row[1]["variant"] or ""),
        Column("part", lambda row: row[1]["part"]),
        Column("A → B", change, color=lambda row: GOOD if _improved(row[1]) else BAD),
        Column("output A", lambda row: _short(row[1]["output_a"], 50), tooltip=lambda row: str(row[1]["output_a"])),
        Column("output B", lambda row: _short(row[1]["output_b"], 50), tooltip=lambda row: str(row[1]["output_b"])),
        Column("expected", lambda row: _short(row[1]["expected"], 50), tooltip=lambda row: str(row[1]["expected"])),
    ]
