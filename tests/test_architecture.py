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


def floors(graph: dict[str, set[str]]) -> dict[str, int]:
    """Floor 1 imports nothing of the package; every other module sits one floor above its highest import."""
    level: dict[str, int] = {}

    def floor(node: str) -> int:
        if node not in level:
            level[node] = 1 + max((floor(n) for n in graph[node]), default=0)
        return level[node]

    for node in graph:
        floor(node)
    return level


def test_the_import_graph_has_no_cycle():
    graph = import_graph()
    assert len(graph) > 40 and graph["kgcli.convert"] >= {"kgcli.shards", "kgcli.records", "kgcli.io"}
    assert find_cycle(graph) is None, " → ".join(find_cycle(graph) or [])


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_imports_run_down_the_floors():
    graph = import_graph()
    level = floors(graph)
    # The command layer is the top: nothing below it imports it.
    for name, targets in graph.items():
        if not name.startswith(("kgcli.cli", "kgcli.__main__")):
            assert not any(t.startswith("kgcli.cli") for t in targets), name
    # The foundations stay at the bottom: errors, io, records, shards, task modules import no stage.
    stages = {"kgcli.convert", "kgcli.evaluate", "kgcli.predict.run", "kgcli.train.run", "kgcli.resolve"}
    for low in ("kgcli.errors", "kgcli.io", "kgcli.records", "kgcli.shards", "kgcli.tasks.base",
                "kgcli.tasks.ner"):
        assert level[low] < min(level[s] for s in stages), low
    for name, targets in graph.items():
        assert all(level[t] < level[name] for t in targets), name
