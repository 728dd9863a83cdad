"""Layers only point down, and nothing imports in a circle (function-local imports included:
a cycle hidden inside a function is still a cycle).

    top     wiring: URLs, ASGI/WSGI/Celery apps, settings, the engine's HTTP (pbx.internal), the
            portal, the demo data
    apps    voicemail > routing > devices (each may use the ones below it)
    ground  the rest of pbx/: directory, API plumbing, events, tokens, the engine client and
            contract
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("pbx", "devices", "routing", "voicemail")
TOP = (
    "pbx.urls",
    "pbx.asgi",
    "pbx.wsgi",
    "pbx.settings",
    "pbx.api.urls",
    "pbx.internal",
    "pbx.portal",
    "pbx.demo",
)
APPS = ("voicemail", "routing", "devices")  # highest first


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts:
                found[_module(path)] = path
    return found


def _imports(path: Path, module: str, known: set[str]) -> set[str]:
    """Every project module `module` imports, wherever the import statement is."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            base = node.module
            if node.level:
                base = ".".join([*module.split(".")[: -node.level], node.module])
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


def _graph() -> dict[str, set[str]]:
    sources = _sources()
    known = set(sources)
    return {module: _imports(path, module, known) for module, path in sources.items()}


def _rank(module: str) -> int:
    """Higher ranks may import lower ones."""
    if any(module == top or module.startswith(top + ".") for top in TOP):
        return len(APPS) + 1
    root = module.split(".")[0]
    if root in APPS:
        return len(APPS) - APPS.index(root)
    return 0


def test_layers_point_down() -> None:
    upward = sorted(
        f"{module} -> {target}"
        for module, targets in _graph().items()
        for target in targets
        if _rank(target) > _rank(module)
    )
    assert upward == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
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
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles() -> None:
    graph = _graph()
    # A package's __init__ that imports nothing is not part of a cycle through its children.
    assert _cycles(graph) == []


def test_the_checks_catch_what_they_claim_to() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]
    assert _rank("pbx.directory.models") < _rank("devices.models") < _rank("routing.calls")
    assert _rank("routing.calls") < _rank("voicemail.services") < _rank("pbx.internal.engine")
    source = "def f():\n    from routing.tasks import push_wake\n"
    path = ROOT / "var" / "layer-probe.py"
    path.parent.mkdir(exist_ok=True)
    path.write_text(source)
    try:
        assert _imports(path, "probe", {"routing", "routing.tasks"}) == {"routing.tasks"}
    finally:
        path.unlink()


def _local_imports(path: Path) -> list[str]:
    """Project imports inside functions (an AppConfig's `ready` is where Django wants them)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or node.name == "ready":
            continue
        for inner in ast.walk(node):
            if isinstance(inner, ast.Import):
                names = [alias.name for alias in inner.names]
            elif isinstance(inner, ast.ImportFrom) and not inner.level:
                names = [inner.module or ""]
            else:
                continue
            if any(name.split(".")[0] in PACKAGES for name in names):
                found.append(f"{path.relative_to(ROOT)}:{inner.lineno} {', '.join(names)}")
    return found


def test_no_project_imports_hide_inside_functions() -> None:
    hidden = [line for path in _sources().values() for line in _local_imports(path)]
    assert hidden == []
