"""The project's import structure: no import cycles between modules, and imports only in the
direction desktop -> evals -> history and engine (server and benchmarks beside them; history imports nothing of the project), with Qt only in desktop
and SQL only in the history package. Reads the source with `ast`; imports nothing."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "history", "evals", "desktop", "server", "benchmarks")
# package -> the project packages it may import
ALLOWED = {
    "engine": {"engine"},
    "history": {"history"},  # below evals and desktop, beside engine: it knows nothing of models or suites
    "evals": {"evals", "history", "engine"},
    "server": {"server", "engine"},
    "desktop": {"desktop", "evals", "history", "engine", "server", "benchmarks"},
    "benchmarks": {"benchmarks", "evals", "history", "engine", "server"},
}
SQL_PACKAGE = "history"  # the only code that runs SQL
QT_PACKAGE = "desktop"


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _type_checking_lines(tree: ast.AST) -> set[int]:
    """Line numbers inside `if TYPE_CHECKING:` blocks (annotations only, never run)."""
    lines = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING":
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Every module name `name` imports (top level or inside functions), project and third-party."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_lines(tree)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1] + ([node.module] if node.module else [])) \
                if node.level else node.module
            submodules = [f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules]
            found.update(submodules)
            if len(submodules) < len(node.names):
                found.add(base)
    return found


def _project_target(imported: str, modules: dict[str, Path]) -> str | None:
    while imported and imported not in modules:
        if "." not in imported:
            return None
        imported = imported.rsplit(".", 1)[0]
    return imported or None


def _graph():
    modules = _modules()
    graph, external = {}, {}
    for name, path in modules.items():
        imported = _imports(name, path, modules)
        graph[name] = {t for i in imported if (t := _project_target(i, modules)) and t != name}
        external[name] = {i.split(".")[0] for i in imported if _project_target(i, modules) is None}
    return graph, external


def test_no_import_cycles():
    graph, _ = _graph()
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(node):  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert cycles == []


def test_imports_point_one_way():
    graph, _ = _graph()
    against = sorted(f"{source} -> {target}" for source, targets in graph.items() for target in targets
                     if target.split(".")[0] not in ALLOWED[source.split(".")[0]])
    assert against == []


def test_qt_only_in_desktop_and_sql_only_in_the_history_package():
    _, external = _graph()
    qt = sorted(m for m, libs in external.items() if "PySide6" in libs and not m.startswith(QT_PACKAGE))
    sql = sorted(m for m, libs in external.items() if libs & {"sqlite3", "sqlite_utils"}
                 and not (m == SQL_PACKAGE or m.startswith(SQL_PACKAGE + ".")))
    references = sorted(m for m, libs in external.items() if libs & {"transformers", "lm_eval"}
                        and not m.startswith("benchmarks"))
    assert (qt, sql, references) == ([], [], [])


def test_the_checker_sees_imports():
    """The checks above would pass vacuously if the graph were empty."""
    graph, external = _graph()
    assert "engine.loader" in graph["engine"] or "engine.loader" in graph.get("engine.cli", set()) | graph["engine"]
    assert "engine" in {t.split(".")[0] for t in graph["evals.runner"]}
    assert "PySide6" in external["desktop.app"] or any("PySide6" in libs for m, libs in external.items()
                                                         if m.startswith("desktop."))
