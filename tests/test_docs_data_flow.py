"""docs/data-flow.md names each step as `file:Function` or `file:Class.method`; every one must exist
in that file, so the page cannot drift from the code unnoticed. Reads the source with `ast`."""
from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "data-flow.md"
REFERENCE = re.compile(r"`([\w/]+\.py):([A-Za-z_][\w.]*)`")


def _defined(path: Path) -> set[str]:
    """Top-level functions and classes of a file, and Class.method for each class's methods."""
    names = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            names.add(node.name)
        elif isinstance(node, ast.ClassDef):
            names.add(node.name)
            names.update(f"{node.name}.{item.name}" for item in node.body
                         if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)))
    return names


def test_every_step_on_the_data_flow_page_names_code_that_exists():
    references = REFERENCE.findall(PAGE.read_text(encoding="utf-8"))
    assert len(references) >= 30  # the page names its steps; a rewrite that drops them fails here
    missing = [f"{file}:{name}" for file, name in references
               if not (ROOT / file).is_file() or name not in _defined(ROOT / file)]
    assert missing == []
