"""Layers only point down (STYLE.md): tasks never import services, no import cycle runs through
voicemail, and none is hidden by an import inside a function. Read from the source, so it
holds for every process (web, worker, agent) whatever it happens to import first."""

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("pbx", "routing", "devices", "voicemail")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _top_level_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """What runs at import time: module-level statements, but not `if TYPE_CHECKING:`."""
    stack: list[ast.stmt] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and "TYPE_CHECKING" not in ast.unparse(node.test):
            stack += node.body + node.orelse
        elif isinstance(node, ast.Try):
            stack += node.body + node.orelse + node.finalbody
            stack += [stmt for handler in node.handlers for stmt in handler.body]


def _targets(node: ast.Import | ast.ImportFrom, modules: dict[str, Path]) -> set[str]:
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names if alias.name in modules}
    base = node.module or ""
    targets = set()
    for alias in node.names:
        if f"{base}.{alias.name}" in modules:
            targets.add(f"{base}.{alias.name}")
        elif base in modules:
            targets.add(base)
    return targets


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {
        name: set().union(*(_targets(n, modules) for n in _top_level_imports(_parse(path))))
        for name, path in modules.items()
    }


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for target in graph.get(todo.pop(), set()) - seen:
            seen.add(target)
            todo.append(target)
    return seen


def test_tasks_never_import_services() -> None:
    reached = _reachable(_graph(), "voicemail.tasks")

    assert "voicemail.tasks" not in reached  # no way back to itself
    assert "voicemail.services" not in reached
    assert {"voicemail.selectors", "voicemail.transcription", "voicemail.retention"} <= reached


def test_no_import_cycle_runs_through_voicemail() -> None:
    graph = _graph()

    cycles = sorted(
        name for name in graph if name.startswith("voicemail") and name in _reachable(graph, name)
    )

    assert cycles == []


def test_voicemail_imports_nothing_inside_a_function() -> None:
    hidden = []
    for path in sorted((ROOT / "voicemail").rglob("*.py")):
        for node in ast.walk(_parse(path)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                hidden += [
                    f"{path.relative_to(ROOT)}:{inner.lineno}"
                    for inner in ast.walk(node)
                    if isinstance(inner, ast.Import | ast.ImportFrom)
                ]

    assert hidden == []
