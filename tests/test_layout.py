"""The package's house rules, checked from the code's own imports (read with ``ast``).

Stages are folders (or foundation modules), ranked in the order the data travels;
a module may import only from its own stage or a lower one, and the import graph has
no circle. Imports inside functions count as much as the ones at the top of a module,
so a circle cannot hide in a function body.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "eda_lib"

#: Rank of each stage, lowest first: a module imports from its rank or below.
STAGES = {
    "errors": 0, "config": 0, "trace": 0, "files": 0, "geometry": 0, "tables": 0,
    "dataset": 1,
    "measure": 2,
    "analysis": 3,
    "datapass": 4, "cluster": 4,
    "report": 5,
    "cli": 6, "__main__": 6, "__init__": 6,
}

#: Modules allowed to import inside a function: only to keep start-up light, never to
#: dodge a circle (the graph below includes these imports and must stay acyclic).
LAZY_IMPORTERS = {"eda_lib", "eda_lib.cli"}

#: Single deferred imports allowed elsewhere, as (importer, imported): the pass imports
#: its Dask executor only when asked for it, since ``distributed`` is an optional extra.
LAZY_IMPORTS = {("eda_lib.datapass", "eda_lib.cluster")}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def stage(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "__init__"
    return parts[1]


def imports(module: str) -> list[tuple[str, int, bool]]:
    """(imported eda_lib module, line, inside a function) for every import of ``module``."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []

    def visit(node: ast.AST, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            nested = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")
                    base = base[:len(base) - child.level + 1]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                if target.split(".")[0] == "eda_lib":
                    for alias in child.names:
                        candidate = f"{target}.{alias.name}"
                        name = candidate if candidate in MODULES else target
                        found.append((name, child.lineno, nested))
            elif isinstance(child, ast.Import):
                found.extend((a.name, child.lineno, nested) for a in child.names
                             if a.name.split(".")[0] == "eda_lib")
            visit(child, nested)

    visit(tree, False)
    return found


GRAPH = {m: imports(m) for m in MODULES}


def test_every_module_belongs_to_a_known_stage():
    assert {stage(m) for m in MODULES} <= set(STAGES), sorted(
        m for m in MODULES if stage(m) not in STAGES)


def test_the_graph_is_read():
    """The reader sees the imports it must judge (a broken reader passes everything)."""
    assert "eda_lib.measure.copymove" in {name for name, _, _ in GRAPH["eda_lib.measure.case"]}
    assert "eda_lib.datapass" in {name for name, _, _ in GRAPH["eda_lib.report.runner"]}
    assert ("eda_lib.cli", True) in {(n, nested) for n, _, nested in GRAPH["eda_lib.__main__"]} \
        or "eda_lib.cli" in {n for n, _, _ in GRAPH["eda_lib.__main__"]}
    assert sum(len(v) for v in GRAPH.values()) > 60


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_only_go_downwards(module):
    upward = [(name, line) for name, line, _ in GRAPH[module]
              if name in MODULES and STAGES[stage(name)] > STAGES[stage(module)]]
    assert not upward, f"{module} imports from a higher stage: {upward}"


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_imports_inside_functions(module):
    if module in LAZY_IMPORTERS:
        return
    inside = [(name, line) for name, line, nested in GRAPH[module]
              if nested and (module, name) not in LAZY_IMPORTS]
    assert not inside, f"{module} imports inside a function: {inside}"


def test_no_circles():
    edges = {m: {name for name, _, _ in GRAPH[m] if name in MODULES and name != m}
             for m in MODULES}
    state: dict[str, int] = {}
    path: list[str] = []

    def walk(m: str) -> None:
        state[m] = 1
        path.append(m)
        for n in sorted(edges[m]):
            if state.get(n) == 1:
                cycle = path[path.index(n):] + [n]
                pytest.fail("import circle: " + " -> ".join(cycle))
            if n not in state:
                walk(n)
        path.pop()
        state[m] = 2

    for m in sorted(edges):
        if m not in state:
            walk(m)
