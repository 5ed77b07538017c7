"""The package's import graph, read from the source: no cycles, and every import runs down the floors.

Every ``import`` counts, also those inside functions (the lazy imports of heavy commands): a cycle through a
lazy import is still a cycle in the design.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "kgcli"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                    + ([base] if base else []))
                # `from kgcli import shards` names a module; `from kgcli.io import read_jsonl` names the
                # module io
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for target in targets:
                if target in modules and target != name and target != "kgcli":
                    graph[name].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


# The floors of the house, lowest first, as data: a module may import its own floor's modules and those
# below, never one above. A name is a module or a package (everything inside it).
FLOORS: list[tuple[str, tuple[str, ...]]] = [
    ("foundations", ("kgcli", "kgcli.__init__", "kgcli.collector", "kgcli.data", "kgcli.errors",
                     "kgcli.terminal", "kgcli.io", "kgcli.outputs", "kgcli.progress", "kgcli.secrets",
                     "kgcli.shards")),
    ("records", ("kgcli.records", "kgcli.schema", "kgcli.repair")),
    ("tasks", ("kgcli.tasks",)),
    ("record stages", ("kgcli.convert", "kgcli.evaluate", "kgcli.report")),
    ("model", ("kgcli.model",)),
    ("train, predict, icl", ("kgcli.train", "kgcli.predict", "kgcli.icl")),
    ("documents", ("kgcli.documents",)),
    ("graph", ("kgcli.graph",)),
    ("schema tools", ("kgcli.schema_tools",)),
    ("demo", ("kgcli.demo",)),
    ("commands", ("kgcli.cli", "kgcli.__main__")),
]


def floor_of(module: str) -> int:
    """The floor a module lives on (the most specific name that holds it)."""
    best: tuple[int, int] | None = None
    for index, (_, names) in enumerate(FLOORS):
        for name in names:
            if module == name or module.startswith(name + "."):
                if best is None or len(name) > best[1]:
                    best = (index, len(name))
    assert best is not None, f"{module} is on no floor: add it to FLOORS"
    return best[0]


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Every import that goes to a higher floor, as "a (floor) → b (floor)"."""
    found = []
    for name, targets in sorted(graph.items()):
        for target in sorted(targets):
            if floor_of(target) > floor_of(name):
                low, high = FLOORS[floor_of(name)][0], FLOORS[floor_of(target)][0]
                found.append(f"{name} ({low}) → {target} ({high})")
    return found


def test_the_import_graph_has_no_cycle():
    graph = import_graph()
    assert len(graph) > 40 and graph["kgcli.convert"] >= {"kgcli.shards", "kgcli.records", "kgcli.io"}
    assert find_cycle(graph) is None, " → ".join(find_cycle(graph) or [])


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_imports_run_down_the_floors():
    graph = import_graph()
    assert all(floor_of(name) >= 0 for name in graph)  # every module has its floor
    assert upward_imports(graph) == []


def test_the_floor_check_sees_an_upward_import():
    graph = {"kgcli.io": {"kgcli.graph.build"}, "kgcli.graph.build": {"kgcli.io"}, "kgcli.tasks.ner": set()}
    assert upward_imports(graph) == ["kgcli.io (foundations) → kgcli.graph.build (graph)"]
