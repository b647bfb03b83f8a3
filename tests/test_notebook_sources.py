"""The notebooks' sources: thin, paired, and with the full parameter list.

Every notebook's ``parameters`` cell must declare each parameter of
``eda_lib.config.PARAMS`` with its type, its help as the comment, and its default
(paths relative to ``notebooks/``), so papermill can inject any of them and a
reader sees them all.
"""

from __future__ import annotations

import ast
from pathlib import Path

import jupytext
import pytest

from eda_lib.config import PARAMS

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
INTERACTIVE = {"data_dir": "../data/demo", "out_dir": "../reports/demo"}


def test_sections_in_order_with_the_summary_last():
    numbers = [int(p.stem[:2]) for p in NOTEBOOKS]
    assert numbers == list(range(1, len(numbers) + 1))
    assert NOTEBOOKS[-1].stem.endswith("_summary")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_parameters_cell_declares_every_parameter(path):
    nb = jupytext.read(path)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(cells) == 1
    lines = [line for line in cells[0].source.splitlines() if line.strip()]
    assert len(lines) == len(PARAMS)
    for p, line in zip(PARAMS, lines):
        code, _, comment = line.partition("#")
        node = ast.parse(code).body[0]
        assert isinstance(node, ast.AnnAssign) and node.target.id == p.name
        assert node.annotation.id == p.type.__name__
        assert ast.literal_eval(node.value) == INTERACTIVE.get(p.name, p.default)
        assert comment.strip() == p.help


#: Statements and expressions that mean logic, which belongs in ``eda_lib``: a notebook
#: holds narrative, its parameters, its imports and one call per result.
LOGIC = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda,
         ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.If,
         ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


def logic_nodes(source: str) -> list[str]:
    """``"<node type> line <n>"`` for every :data:`LOGIC` node of ``source``."""
    return [f"{type(n).__name__} line {n.lineno}" for n in ast.walk(ast.parse(source))
            if isinstance(n, LOGIC)]


def test_logic_nodes_finds_each_kind():
    source = "\n".join([
        "def f(): pass", "async def g(): pass", "class C: pass", "h = lambda: 1",
        "for i in x: pass", "while x: pass", "with x: pass", "if x: pass",
        "a = [i for i in x]", "b = {i for i in x}", "c = {i: i for i in x}", "d = sum(i for i in x)",
    ])
    kinds = {found.split()[0] for found in logic_nodes(source)}
    assert kinds == {t.__name__ for t in LOGIC} - {"AsyncFor", "AsyncWith"}
    assert logic_nodes("s.show(plots.bar_counts(t, 'x', title='t', xlabel='x'), 'counts')") == []


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebooks_hold_no_logic(path):
    cells = [c for c in jupytext.read(path).cells if c.cell_type == "code"]
    found = [f"code cell {i} {where}" for i, c in enumerate(cells, 1) for where in logic_nodes(c.source)]
    assert not found, f"logic belongs in eda_lib: {', '.join(found)}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_papermill_lists_every_parameter_with_type_and_help(path, tmp_path):
    import papermill

    ipynb = tmp_path / f"{path.stem}.ipynb"
    jupytext.write(jupytext.read(path), ipynb)
    found = papermill.inspect_notebook(str(ipynb))
    assert list(found) == [p.name for p in PARAMS]
    for p in PARAMS:
        assert found[p.name]["inferred_type_name"] == p.type.__name__
        assert found[p.name]["help"] == p.help
