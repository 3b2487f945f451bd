"""Small helpers shared by the importers: reading CSV/JSON/JSONL by content, header dicts."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from ..errors import DatasetImportError


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetImportError(f"{path.name} is not UTF-8 text; give the published file") from exc


def read_json_records(path: Path, text: str | None = None) -> list[dict] | None:
    """A JSON array or JSON-lines file as a list of objects; None when the text is neither."""
    text = read_text(path) if text is None else text
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json.loads(stripped)
        except json.JSONDecodeError as exc:
            raise DatasetImportError(f"{path.name}: not valid JSON ({exc.msg} at line {exc.lineno})") from exc
        return [d for d in data if isinstance(d, dict)]
    if stripped.startswith("{"):
        out = []
        for n, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DatasetImportError(f"{path.name} line {n}: not valid JSON ({exc.msg})") from exc
        return out
    return None


def read_csv_rows(path: Path, required: set[str], text: str | None = None) -> list[dict]:
    text = read_text(path) if text is None else text
    reader = csv.DictReader(io.StringIO(text))
    columns = set(reader.fieldnames or [])
    missing = required - columns
    if missing:
        raise DatasetImportError(
            f"{path.name} lacks the column(s) {', '.join(sorted(missing))}; give the published CSV "
            f"(found: {', '.join(sorted(c for c in columns if c)) or 'no header'})")
    return list(reader)


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
