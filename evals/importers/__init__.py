"""Convert published benchmark files into glasslm suite files (`glasslm eval import KIND PATH`).

One module per dataset; each exposes `convert(path, suite_id) -> (header, items)` and
recognizes its formats by content, not by file name. `import_suite` validates the result
with the same opener as every other suite and writes it to the user suites folder. They
never download anything: you give them the file.
"""

from __future__ import annotations

import json
from pathlib import Path

from engine.safe_write import FileWriteError, make_folder, write_bytes

from ..errors import DatasetImportError
from ..suite import SUITE_ID, Suite, builtin_suites_dir, load_suite, parse_suite
from .common import check_items
from . import bbq, crows, halueval, truthfulqa

IMPORTERS = {"truthfulqa": truthfulqa.convert, "bbq": bbq.convert, "crows": crows.convert,
             "halueval": halueval.convert}
# Other names a dataset goes by (its own repository name), accepted as KIND.
ALIASES = {"crows-pairs": "crows", "crows_pairs": "crows"}
KINDS = (*IMPORTERS, *ALIASES)  # every accepted KIND


def import_suite(kind: str, source: Path, dest_dir: Path, suite_id: str | None = None,
                 replace: bool = False) -> Suite:
    """Convert `source` with the `kind` importer into `dest_dir/<suite_id>.jsonl` and load it."""
    kind = ALIASES.get(kind, kind)
    if kind not in IMPORTERS:
        raise DatasetImportError(f"unknown import kind {kind!r}; choose one of {', '.join(KINDS)}")
    source = Path(source).expanduser()
    if not source.is_file():
        raise DatasetImportError(f"{source} does not exist or is not a file; give the path of the {kind} data file")
    suite_id = kind if suite_id is None else suite_id  # an empty --id is an error, not the default
    if not SUITE_ID.match(suite_id):
        raise DatasetImportError(f"--id {suite_id!r} must be letters, digits, '_', '-' or '.'")
    if (builtin_suites_dir() / f"{suite_id}.jsonl").exists():
        raise DatasetImportError(f"{suite_id!r} is a built-in suite name; choose another with --id")
    dest = Path(dest_dir) / f"{suite_id}.jsonl"
    if dest.exists() and not replace:
        raise DatasetImportError(f"an imported suite {suite_id!r} already exists ({dest}); choose another --id")
    converted = IMPORTERS[kind](source, suite_id)  # (header, items) or (header, items, source lines)
    header, items = converted[0], converted[1]
    if not items:
        raise DatasetImportError(f"{source.name} has no usable {kind} rows; check that it is the published file")
    check_items(source, items, converted[2] if len(converted) > 2 else None)  # errors name the user's line
    # Validate under the final name before anything is written, then write it atomically (a
    # temporary file renamed into place), so a failed import never leaves a half or invalid suite.
    data = "".join(json.dumps(obj, ensure_ascii=False) + "\n" for obj in [header, *items]).encode("utf-8")
    parse_suite(data, dest, source="imported")
    try:
        make_folder(dest.parent, "suites folder")
        write_bytes(dest, data)
    except FileWriteError as exc:
        raise DatasetImportError(f"cannot save the imported suite: {exc}") from exc
    return load_suite(dest, source="imported")
