"""Small helpers shared by the importers: reading CSV/JSON/JSONL by content, with the user's line
numbers; checking fields; header dicts.

Every message names the user's file, the line in it (for a JSON array, the line where the
record starts; for CSV, where the row starts) and the field, so a malformed row is one
`DatasetImportError` that says what to fix, never a traceback. `read_json_records` and
`read_csv_rows` keep their plain-list form for importers that do not track lines.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from ..errors import DatasetImportError


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetImportError(f"{path.name} is not UTF-8 text (byte {exc.start}); give the published file") from exc
    except OSError as exc:
        raise DatasetImportError(f"cannot read {path}: {exc.strerror}") from exc


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    return {int: "a number", float: "a number", str: "a string", list: "a list", dict: "an object"}.get(
        type(value), type(value).__name__)


def json_records_with_lines(path: Path, text: str | None = None) -> list[tuple[int, dict]] | None:
    """(line, object) for each record of a JSON array or JSON-lines file; None when it is neither.

    A record that is not a JSON object is an error naming its line.
    """
    text = read_text(path) if text is None else text
    stripped = text.lstrip()
    if stripped.startswith("["):
        out = _array_with_lines(path, text)
    elif stripped.startswith("{"):
        out = []
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                out.append((n, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise DatasetImportError(f"{path.name} line {n}: not valid JSON ({exc.msg} at column {exc.colno}); "
                                         "each line must be one JSON object") from exc
    else:
        return None
    for n, record in out:
        if not isinstance(record, dict):
            raise DatasetImportError(f"{path.name} line {n}: expected a JSON object {{...}}, found {_kind(record)}")
    return out


def _array_with_lines(path: Path, text: str) -> list[tuple[int, Any]]:
    """The elements of a top-level JSON array, each with the line where it starts."""
    decoder = json.JSONDecoder()
    pos = text.index("[") + 1
    out: list[tuple[int, Any]] = []
    counted = [0, 1]  # (position, line there): lines are counted forward once, not from the start each time

    def line_at(i: int) -> int:
        counted[1] += text.count("\n", counted[0], i)
        counted[0] = i
        return counted[1]

    def skip(i: int) -> int:
        while i < len(text) and text[i] in " \t\r\n":
            i += 1
        return i

    def fail(i: int, what: str):
        line = text.count("\n", 0, i) + 1
        raise DatasetImportError(f"{path.name} line {line}: not valid JSON ({what}); give the published file")

    pos = skip(pos)
    if pos < len(text) and text[pos] == "]":
        return out
    while True:
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            fail(exc.pos, exc.msg)
        out.append((line_at(pos), value))
        pos = skip(end)
        if pos < len(text) and text[pos] == ",":
            pos = skip(pos + 1)
            continue
        if pos < len(text) and text[pos] == "]":
            if text[pos + 1:].strip():
                fail(pos + 1, "extra data after the array")
            return out
        fail(pos, "expected ',' or ']'")


def read_json_records(path: Path, text: str | None = None) -> list[dict] | None:
    """A JSON array or JSON-lines file as a list of objects; None when the text is neither."""
    records = json_records_with_lines(path, text)
    return None if records is None else [record for _, record in records]


def csv_rows_with_lines(path: Path, required: set[str], text: str | None = None) -> list[tuple[int, dict]]:
    """(line where the row starts, row) for each CSV row; a row lacking a required column is an error."""
    text = read_text(path) if text is None else text
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        columns = set(reader.fieldnames or [])
    except csv.Error as exc:
        raise DatasetImportError(f"{path.name} line 1: not valid CSV ({exc})") from exc
    missing = required - columns
    if missing and text.lstrip()[:1] in ("[", "{"):
        raise DatasetImportError(f"{path.name} is JSON, but this importer reads the published CSV (columns "
                                 f"{', '.join(sorted(required))}); check the KIND and the file")
    if missing:
        raise DatasetImportError(
            f"{path.name} lacks the column(s) {', '.join(sorted(missing))}; give the published CSV "
            f"(found: {', '.join(sorted(c for c in columns if c)) or 'no header'})")
    out = []
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return out
        except csv.Error as exc:
            raise DatasetImportError(f"{path.name} line {start}: not valid CSV ({exc})") from exc
        absent = sorted(k for k in required if row.get(k) is None)
        if absent:
            raise DatasetImportError(f"{path.name} line {start}: the row has no {', '.join(absent)} "
                                     f"(it is shorter than the header); fix or delete that row")
        out.append((start, row))
        start = reader.line_num + 1


def read_csv_rows(path: Path, required: set[str], text: str | None = None) -> list[dict]:
    return [row for _, row in csv_rows_with_lines(path, required, text)]


class Fields:
    """Typed access to one record's fields; each failure names file, line and field."""

    def __init__(self, path: Path, line: int, record: dict):
        self.path, self.line, self.record = path, line, record

    def error(self, message: str) -> DatasetImportError:
        return DatasetImportError(f"{self.path.name} line {self.line}: {message}")

    def has(self, key: str) -> bool:
        return key in self.record

    def text(self, key: str, allow_empty: bool = False) -> str:
        value = self.record.get(key)
        if key not in self.record:
            raise self.error(f"missing {key!r}")
        if not isinstance(value, str):
            raise self.error(f"{key!r} must be text, not {_kind(value)}")
        if not allow_empty and not value.strip():
            raise self.error(f"{key!r} is empty")
        return value

    def optional_text(self, key: str) -> str | None:
        value = self.record.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise self.error(f"{key!r} must be text, not {_kind(value)}")
        return value

    def obj(self, key: str) -> dict:
        value = self.record.get(key)
        if not isinstance(value, dict):
            raise self.error(f"{key!r} must be an object {{...}}, not {_kind(value)}"
                             if key in self.record else f"missing {key!r}")
        return value

    def choice(self, key: str, allowed: tuple[str, ...]) -> str:
        value = self.text(key)
        if value.strip() not in allowed:
            raise self.error(f"{key!r} is {value!r}; expected {' or '.join(repr(a) for a in allowed)}")
        return value.strip()

    def index(self, key: str, n: int) -> int:
        value = self.record.get(key)
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < n:
            raise self.error(f"{key!r} must be a whole number from 0 to {n - 1}, not {value!r}"
                             if key in self.record else f"missing {key!r}")
        return value

    def ident(self, key: str) -> str:
        """An id field (a number or a string) as text."""
        value = self.record.get(key)
        if isinstance(value, bool) or not isinstance(value, (int, str)) or str(value).strip() == "":
            raise self.error(f"{key!r} must be a number or a string, not {_kind(value)}"
                             if key in self.record else f"missing {key!r}")
        return str(value).strip()


def label(value: Any) -> int | None:
    """A 0/1 truth label (0, 1, true, false, "0", "1"), or None when it is not one."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) and value in (0, 1):
        return value
    if isinstance(value, float) and value in (0.0, 1.0):
        return int(value)
    if isinstance(value, str) and value.strip() in ("0", "1"):
        return int(value.strip())
    return None


def check_items(source: Path, items: list[dict], lines: list[int] | None = None) -> None:
    """Validate converted items as suite items, naming the user's file and line (DatasetImportError).

    `lines[i]` is the line of `source` that item i came from (None: the importer does not say).
    Repeated ids (a row or file given twice) are named with both lines.
    """
    from ..errors import SuiteError
    from ..suite import check_item

    seen: dict[str, int] = {}
    for i, obj in enumerate(items):
        line = lines[i] if lines is not None else None
        try:
            item = check_item(obj, source.name, line)
        except SuiteError as exc:
            raise DatasetImportError(f"{exc}; fix or delete that row") from None
        if item.id in seen:
            first = seen[item.id]
            where = f"line {line} repeats line {first}" if line else f"record {i + 1} repeats record {first}"
            raise DatasetImportError(f"{source.name} {where} (both become item {item.id}); remove the duplicate")
        seen[item.id] = line if line else i + 1


def header(suite_id: str, title: str, description: str, source: Path, url: str) -> dict:
    return {"suite": suite_id, "version": "1", "title": title,
            "description": f"{description} Imported from {source.name}.", "url": url}


def dedupe(choices: list[str], labels: list[int]) -> tuple[list[str], list[int]]:
    """Drop repeated choice texts (keeping the first), as the suite format needs distinct choices."""
    seen: dict[str, int] = {}
    out_c, out_l = [], []
    for c, l in zip(choices, labels):
        c = c.strip()
        if not c or c in seen:
            continue
        seen[c] = len(out_c)
        out_c.append(c)
        out_l.append(l)
    return out_c, out_l
