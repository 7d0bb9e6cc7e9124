"""The architecture the README promises, checked on the source: no import cycles, one-way layers,
the environment read in one module, and modules and functions short enough to read.

Every import counts, wherever it is written (module level, inside a function, under
TYPE_CHECKING): a lazy import hides a cycle from Python, not from the design.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "kbcli"
MAX_MODULE_LINES = 450  # the goal is ~400 (HELPERS.md); a little slack
MAX_FUNCTION_LINES = 70  # the goal is ~60


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


@cache
def _tree(name: str) -> ast.Module:
    path = _modules()[name]
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _target(imported: str) -> str | None:
    """The kbcli module an import names: itself, or the nearest enclosing kbcli module."""
    while imported and imported not in _modules():
        imported = imported.rpartition(".")[0]
    return imported or None


def _imports(name: str) -> set[str]:
    """The kbcli modules `name` imports, anywhere in its body."""
    package = name if _modules()[name].name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(_tree(name)):
        if isinstance(node, ast.Import):
            found.update(filter(None, (_target(alias.name) for alias in node.names)))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the package, one level up per extra dot
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:  # `from kbcli.store import schema` imports the submodule
                target = _target(f"{base}.{alias.name}") if f"{base}.{alias.name}" in _modules() else _target(base)
                if target:
                    found.add(target)
    found.discard(name)
    return found


@cache
def _graph() -> dict[str, frozenset[str]]:
    return {name: frozenset(_imports(name)) for name in _modules()}


def _cycles() -> list[list[str]]:
    """Strongly connected groups of modules (Tarjan), each one a cycle or a knot of them."""
    graph, index, low, stack, on_stack, groups = _graph(), {}, {}, [], set(), []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for other in sorted(graph[node]):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in on_stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def _reaches(start: str) -> dict[str, list[str]]:
    """Every module `start` imports directly or through others -> one import chain to it."""
    chains, todo = {start: [start]}, [start]
    while todo:
        node = todo.pop()
        for other in sorted(_graph()[node]):
            if other not in chains:
                chains[other] = [*chains[node], other]
                todo.append(other)
    return chains


def _within(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") or (p.endswith("*") and name.startswith(p[:-1])) for p in prefixes)


def test_the_checks_see_the_package() -> None:
    """The rules below are only as good as the import graph they read."""
    graph = _graph()
    assert {"kbcli.cli", "kbcli.kb", "kbcli.search", "kbcli.store", "kbcli.settings"} <= set(graph)
    assert "kbcli.kb" in graph["kbcli.cli"] or any("kbcli.kb" in _reaches(m) for m in graph["kbcli.cli"])
    assert "kbcli.store" in _reaches("kbcli.kb")


def test_no_import_cycles() -> None:
    assert _cycles() == [], "modules that import each other (directly or round a loop): " + "; ".join(
        " <-> ".join(group) for group in _cycles()
    )


# (who, what it must never reach): the core never reaches the CLI; the lower layers never reach up.
_LAYERS = [
    (("kbcli.store", "kbcli.vectors", "kbcli.embedding", "kbcli.models"),
     ("kbcli.search", "kbcli.kb", "kbcli.answer", "kbcli.shell*", "kbcli.cli*")),
    (("kbcli.search",), ("kbcli.kb", "kbcli.shell*", "kbcli.cli*")),
]


def test_layers_point_one_way() -> None:
    problems = []
    for name in _graph():
        # Only the CLI itself, and `python -m kbcli` (the entry point above it), may import kbcli.cli.
        if not _within(name, "kbcli.cli*", "kbcli.__main__"):
            problems += [f"{name} imports {t}" for t in _graph()[name] if _within(t, "kbcli.cli*")]
        for lower, above in _LAYERS:
            if _within(name, *lower):
                chains = _reaches(name)
                problems += [" -> ".join(chain) for t, chain in chains.items() if _within(t, *above)]
    assert problems == [], "imports against the layering:\n" + "\n".join(sorted(set(problems)))


def _environment_reads(tree: ast.Module) -> list[int]:
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv", "environb", "putenv", "unsetenv"):
            if isinstance(node.value, ast.Name) and node.value.id == "os":
                lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.module == "os":
            lines += [node.lineno for alias in node.names if alias.name in ("environ", "getenv", "environb")]
    return lines


def test_only_settings_reads_the_environment() -> None:
    found = {
        f"{path.relative_to(ROOT)}:{line}"
        for name, path in _modules().items()
        if name != "kbcli.settings"
        for line in _environment_reads(_tree(name))
    }
    assert not found, "os.environ / os.getenv outside kbcli/settings.py: " + ", ".join(sorted(found))


def test_modules_and_functions_stay_short() -> None:
    problems = []
    for name, path in _modules().items():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            problems.append(f"{path.relative_to(ROOT)}: {lines} lines (max {MAX_MODULE_LINES})")
        for node in ast.walk(_tree(name)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    problems.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}(): {length} lines (max {MAX_FUNCTION_LINES})")
    assert problems == [], "too long:\n" + "\n".join(problems)
