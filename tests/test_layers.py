"""The packages' layers, as the design draws them, read from the source's imports.

Bottom: the models, errors, settings, clock, numbers and the database (with its
tables, types and schema revisions), and the packages' lazy re-exports. Above it, the
domain: ``spintax`` (pure, imports nothing of ours), ``phones/`` and ``sequences/``,
which import only the bottom (and ``sequences`` the templates). Above those, the
runtime (everything else in ``engine/``: queues, sender, dispatcher, jobs, webhook,
replies, storage, the TimelinesAI client), and ``cli/`` and ``console/`` (the web
console) on top. No module imports one above its layer, and no two modules import each
other at module level (an import inside a function or under ``TYPE_CHECKING`` is not a
cycle).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "phones", "sequences", "spintax", "cli", "console")
BOTTOM = frozenset({
    "engine", "engine.models", "engine.errors", "engine.settings", "engine.clock",
    "engine.db", "engine.dbtypes", "engine.tables", "engine.numbers", "engine.config_loader",
    "engine.states", "engine.lead_names", "engine.revisions", "engine.lazy",
    "engine.company_keys",
})  # fmt: skip
DOMAIN = ("phones", "sequences", "spintax")


def layer(module: str) -> int:
    """0 bottom, 1 domain, 2 runtime, 3 CLI."""
    top = module.split(".", maxsplit=1)[0]
    if module in BOTTOM or any(module.startswith(f"{b}.") for b in BOTTOM - {"engine"}):
        return 0
    if top in DOMAIN:
        return 1
    return 3 if top in ("cli", "console") else 2


@cache
def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _module_level_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If) and not _is_type_checking(node.test):
            yield from (n for n in node.body if isinstance(n, ast.Import | ast.ImportFrom))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


@cache
def imports() -> dict[str, frozenset[str]]:
    """Each module's module-level imports of our own modules (``from package import
    submodule`` counts as the submodule)."""
    known = modules()
    graph: dict[str, frozenset[str]] = {}
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in _module_level_imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets.update(alias.name for alias in node.names if alias.name in known)
                continue
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                targets.add(sub if sub in known else base)
        graph[name] = frozenset(t for t in targets if t in known and t != name)
    return graph


def test_the_layers_are_found() -> None:
    """The walk sees the tree (a test that reads nothing would pass anything)."""
    graph = imports()
    assert {"engine.models", "engine.sending.service", "phones.lease", "cli.main"} <= set(graph)
    assert "engine.storage" in graph["engine.sending.service"]


@pytest.mark.parametrize("package", PACKAGES)
def test_no_module_imports_a_layer_above_its_own(package: str) -> None:
    upward = sorted(
        f"{module} -> {target}"
        for module, targets in imports().items()
        if module.split(".")[0] == package
        for target in targets
        if layer(target) > layer(module)
    )
    assert upward == []


def test_spintax_imports_nothing_of_ours() -> None:
    outside = sorted(
        f"{module} -> {target}"
        for module, targets in imports().items()
        if module.startswith("spintax")
        for target in targets
        if not target.startswith("spintax")
    )
    assert outside == []


def test_phones_and_sequences_do_not_import_each_other() -> None:
    crossing = sorted(
        f"{module} -> {target}"
        for module, targets in imports().items()
        for target in targets
        if {module.split(".")[0], target.split(".")[0]} == {"phones", "sequences"}
    )
    assert crossing == []


def cycles(graph: dict[str, frozenset[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while (member := stack.pop()) != node:
                group.append(member)
            group.append(node)
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_level_import_cycles() -> None:
    assert cycles(dict(imports())) == []


def test_a_cycle_would_be_found() -> None:
    graph = {"a": frozenset({"b"}), "b": frozenset({"c"}), "c": frozenset({"a"}), "d": frozenset()}
    assert cycles(graph) == [["a", "b", "c"]]
