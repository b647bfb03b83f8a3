"""Compare the output folders of two runs: tables, figures, executed notebooks, manifest.

:func:`diff_runs` reads two ``out_dir`` folders and returns a :class:`RunDiff`;
:func:`format_diff` turns it into a short plain-text summary for ``python -m eda_lib
diff OLD_OUT NEW_OUT``. What is compared, and how:

- tables (``tables/*.csv``): read as text, rows matched by the table's natural key
  (:data:`TABLE_KEYS`; whole rows for other tables or when a key is not unique);
  numbers equal within ``rel_tol`` count as equal;
- figures (``figures/*.png``): decoded pixels, so PNG metadata does not count;
- executed notebooks (``notebooks/*.ipynb``): cell sources and outputs (stdout, the
  data of :data:`COMPARED_MIMETYPES`, error names and values); metadata, execution
  counts, stderr (warnings, progress bars) and widget state are ignored, and the run's
  own ``out_dir`` path is replaced by :data:`OUT_DIR_TOKEN` on both sides;
- ``tables/manifest.json``: every field (data fingerprint, pass parameters, analysis
  version).

The HTML pages, ``tables/*.parquet`` (the same tables as the CSV files) and ``cache/``
are not compared.
"""

from __future__ import annotations

import base64
import binascii
import difflib
import hashlib
import io
import json
import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
from PIL import Image, UnidentifiedImageError

from ..errors import ConfigError, DataError

#: Natural key of each table of the suite; other tables are compared row by row.
TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "images": ("split", "label", "case_id"),
    "image_scores": ("split", "label", "case_id"),
    "health": ("split", "label", "case_id"),
    "masks": ("split", "case_id"),
    "instances": ("split", "case_id", "instance"),
    "copy_move": ("split", "case_id", "instance"),
    "label_check": ("split", "case_id"),
    "screening": ("split", "label", "case_id", "pair"),
    "groups": ("split", "label", "case_id"),
    "folds": ("split", "label", "case_id"),
    "problems": ("path", "kind"),
}

#: Output data compared in notebooks; others (widget views) carry ids that change each run.
COMPARED_MIMETYPES = ("text/plain", "text/html", "text/markdown", "image/png")

#: Stands for the run's own out_dir in notebook sources and outputs, on both sides.
OUT_DIR_TOKEN = "<out_dir>"

#: The sub-folders of a run; a folder with none of them is not a run's out_dir.
RUN_FOLDERS = ("tables", "figures", "notebooks")

MISSING = "(missing)"


@dataclass(frozen=True)
class ValueChange:
    """One value that differs: a table cell or a manifest field.

    Attributes
    ----------
    name : str
        Column of the table, or dotted field of the manifest (``data.sha256``).
    old, new : str
        The values as text; :data:`MISSING` when absent on that side.
    """

    name: str
    old: str
    new: str


@dataclass(frozen=True)
class RowChange:
    """A row present in both runs whose values differ.

    Attributes
    ----------
    key : tuple of str
        The row's values of the table's key columns.
    values : tuple of ValueChange
        The changed cells, in column order.
    """

    key: tuple[str, ...]
    values: tuple[ValueChange, ...]


@dataclass(frozen=True)
class TableDiff:
    """How one table present in both runs differs.

    Attributes
    ----------
    name : str
        Table name (CSV file stem).
    key : tuple of str
        Columns rows were matched by; for a whole-row comparison, every common column.
    keyed : bool
        True when rows were matched by a natural key, False for whole rows.
    rows_old, rows_new : int
        Row counts.
    columns_added, columns_removed : tuple of str
        Columns only in the new, or only in the old table.
    rows_added, rows_removed : tuple of tuple of str
        Keys (whole rows when not keyed) found on one side only, sorted.
    rows_changed : int
        Rows present on both sides with at least one changed value (keyed tables).
    changed_columns : tuple of (str, int)
        Each column with changed values and how many rows changed in it.
    examples : tuple of RowChange
        The first changed rows in key order, at most ``max_examples``.
    order_changed : bool
        The same rows are present in another order.
    within_tolerance : int
        Values whose text differs but whose numbers agree within ``rel_tol``.
    note : str
        Why rows were compared whole, when a natural key could not be used.
    """

    name: str
    key: tuple[str, ...]
    keyed: bool
    rows_old: int
    rows_new: int
    columns_added: tuple[str, ...] = ()
    columns_removed: tuple[str, ...] = ()
    rows_added: tuple[tuple[str, ...], ...] = ()
    rows_removed: tuple[tuple[str, ...], ...] = ()
    rows_changed: int = 0
    changed_columns: tuple[tuple[str, int], ...] = ()
    examples: tuple[RowChange, ...] = ()
    order_changed: bool = False
    within_tolerance: int = 0
    note: str = ""

    @property
    def identical(self) -> bool:
        """True when the tables hold the same rows and columns in the same order."""
        return not (self.columns_added or self.columns_removed or self.rows_added
                    or self.rows_removed or self.rows_changed or self.order_changed)


@dataclass(frozen=True)
class FigureChange:
    """A figure present in both runs whose pixels differ.

    Attributes
    ----------
    name : str
        File name under ``figures/``.
    size_old, size_new : tuple of int
        ``(width, height)`` of each side.
    pixels_changed : int or None
        Pixels that differ in any channel; None when the sizes differ.
    share : float
        ``pixels_changed`` over the pixel count; 1.0 when the sizes differ.
    """

    name: str
    size_old: tuple[int, int]
    size_new: tuple[int, int]
    pixels_changed: int | None
    share: float


@dataclass(frozen=True)
class CellChange:
    """A notebook cell whose source or outputs differ, or that one side lacks.

    Attributes
    ----------
    index : int
        0-based cell index in the new notebook (in the old one for a removed cell).
    what : str
        ``"outputs"``, ``"source"``, ``"source, outputs"``, ``"added"`` or ``"removed"``.
    first_line : str
        First non-empty line of the cell's source.
    """

    index: int
    what: str
    first_line: str


@dataclass(frozen=True)
class NotebookDiff:
    """How one executed notebook present in both runs differs.

    Attributes
    ----------
    name : str
        File name under ``notebooks/``.
    cells : tuple of CellChange
        Changed, added and removed cells in notebook order; empty when identical.
    """

    name: str
    cells: tuple[CellChange, ...]


@dataclass(frozen=True)
class RunDiff:
    """Everything that differs between two runs' output folders.

    Attributes
    ----------
    old, new : Path
        The two output folders.
    rel_tol : float
        Relative tolerance used for numbers in tables.
    max_examples : int
        Most example rows kept and shown per table and kind of change.
    manifest : tuple of ValueChange
        Fields of ``tables/manifest.json`` that differ.
    tables_added, tables_removed : tuple of str
        Tables (CSV file stems) found in one run only.
    tables : tuple of TableDiff
        Every table found in both runs, identical or not, by name.
    figures_added, figures_removed : tuple of str
        Figures found in one run only.
    figures_compared : int
        Figures found in both runs.
    figures_changed : tuple of FigureChange
        Figures found in both runs whose pixels differ.
    notebooks_added, notebooks_removed : tuple of str
        Executed notebooks found in one run only.
    notebooks : tuple of NotebookDiff
        Every executed notebook found in both runs, identical or not, by name.
    """

    old: Path
    new: Path
    rel_tol: float
    max_examples: int
    manifest: tuple[ValueChange, ...]
    tables_added: tuple[str, ...]
    tables_removed: tuple[str, ...]
    tables: tuple[TableDiff, ...]
    figures_added: tuple[str, ...]
    figures_removed: tuple[str, ...]
    figures_compared: int
    figures_changed: tuple[FigureChange, ...]
    notebooks_added: tuple[str, ...]
    notebooks_removed: tuple[str, ...]
    notebooks: tuple[NotebookDiff, ...]

    @property
    def identical(self) -> bool:
        """True when nothing compared differs (the exit status 0 of ``diff``)."""
        return not (
            self.manifest or self.tables_added or self.tables_removed
            or any(not t.identical for t in self.tables)
            or self.figures_added or self.figures_removed or self.figures_changed
            or self.notebooks_added or self.notebooks_removed
            or any(n.cells for n in self.notebooks)
        )


def diff_runs(old: Path, new: Path, rel_tol: float = 1e-9, max_examples: int = 5) -> RunDiff:
    """Compare two runs' output folders.

    Parameters
    ----------
    old, new : Path
        The ``out_dir`` of each run.
    rel_tol : float, optional
        Two table values whose text differs are still equal when both are numbers
        within this relative tolerance (:func:`math.isclose`); 0 compares text exactly.
    max_examples : int, optional
        Most changed rows kept as examples per table, and most added or removed rows
        :func:`format_diff` lists per table.

    Returns
    -------
    RunDiff

    Raises
    ------
    ConfigError
        A folder is missing, is not a folder or holds none of tables/, figures/,
        notebooks/; or ``rel_tol`` or ``max_examples`` is negative.
    DataError
        A table, figure, notebook or manifest cannot be read.

    Examples
    --------
    >>> d = diff_runs(Path("reports/main"), Path("reports/branch"))  # doctest: +SKIP
    >>> print(format_diff(d))  # doctest: +SKIP
    """
    old, new = Path(old), Path(new)
    _check_run_dir(old, "old")
    _check_run_dir(new, "new")
    if rel_tol < 0 or max_examples < 0:
        raise ConfigError(f"rel_tol ({rel_tol}) and max_examples ({max_examples}) must be "
                          "0 or more.")

    tables_old = _files(old / "tables", "*.csv", by_stem=True)
    tables_new = _files(new / "tables", "*.csv", by_stem=True)
    figures_old, figures_new = _files(old / "figures", "*.png"), _files(new / "figures", "*.png")
    nbs_old, nbs_new = _files(old / "notebooks", "*.ipynb"), _files(new / "notebooks", "*.ipynb")
    common_figures = sorted(figures_old.keys() & figures_new.keys())

    return RunDiff(
        old=old,
        new=new,
        rel_tol=rel_tol,
        max_examples=max_examples,
        manifest=_manifest_changes(old / "tables/manifest.json", new / "tables/manifest.json"),
        tables_added=_only(tables_new, tables_old),
        tables_removed=_only(tables_old, tables_new),
        tables=tuple(
            diff_tables(name, _read_csv(tables_old[name]), _read_csv(tables_new[name]),
                        rel_tol=rel_tol, max_examples=max_examples)
            for name in sorted(tables_old.keys() & tables_new.keys())
        ),
        figures_added=_only(figures_new, figures_old),
        figures_removed=_only(figures_old, figures_new),
        figures_compared=len(common_figures),
        figures_changed=tuple(
            c for name in common_figures
            if (c := diff_figures(name, figures_old[name], figures_new[name])) is not None
        ),
        notebooks_added=_only(nbs_new, nbs_old),
        notebooks_removed=_only(nbs_old, nbs_new),
        notebooks=tuple(
            NotebookDiff(name, _diff_cells(_read_cells(nbs_old[name], old),
                                          _read_cells(nbs_new[name], new)))
            for name in sorted(nbs_old.keys() & nbs_new.keys())
        ),
    )


# ----------------------------------------------------------------------------- folders


def _check_run_dir(path: Path, which: str) -> None:
    if not path.exists():
        raise ConfigError(f"{which} run folder {path} does not exist. Pass the out_dir of a "
                          "finished run (it holds tables/, figures/ and notebooks/).")
    if not path.is_dir():
        raise ConfigError(f"{which} run folder {path} is a file, not a folder. Pass the "
                          "out_dir of a finished run.")
    if not any((path / sub).is_dir() for sub in RUN_FOLDERS):
        raise ConfigError(f"{which} run folder {path} holds none of tables/, figures/, "
                          "notebooks/: it is not the out_dir of a run. Pass the folder "
                          "that holds index.html.")


def _files(folder: Path, pattern: str, by_stem: bool = False) -> dict[str, Path]:
    """Files of ``folder`` matching ``pattern`` by name (or stem); none when it is missing."""
    if not folder.is_dir():
        return {}
    return {(p.stem if by_stem else p.name): p for p in folder.glob(pattern) if p.is_file()}


def _only(these: dict[str, Path], others: dict[str, Path]) -> tuple[str, ...]:
    return tuple(sorted(these.keys() - others.keys()))


# ----------------------------------------------------------------------------- tables


def _read_csv(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read table {path}: {exc}. Run the suite again to rewrite it.",
                        path=path, kind="unreadable_table") from exc


def diff_tables(name: str, old: pd.DataFrame, new: pd.DataFrame, rel_tol: float = 1e-9,
                max_examples: int = 5) -> TableDiff:
    """Compare two versions of a table whose values are all text.

    Rows are matched by ``TABLE_KEYS[name]`` when that key exists and is unique on
    both sides; otherwise whole rows of the common columns are compared as multisets.

    Parameters
    ----------
    name : str
        Table name (CSV file stem), which chooses the key.
    old, new : DataFrame
        The tables, read with ``dtype=str, keep_default_na=False``.
    rel_tol : float, optional
        Relative tolerance for values that both parse as numbers (keyed tables).
    max_examples : int, optional
        Most changed rows kept in :attr:`TableDiff.examples`.

    Returns
    -------
    TableDiff
    """
    common = [c for c in new.columns if c in old.columns]
    base = {
        "name": name,
        "rows_old": len(old),
        "rows_new": len(new),
        "columns_added": tuple(c for c in new.columns if c not in old.columns),
        "columns_removed": tuple(c for c in old.columns if c not in new.columns),
    }
    key = TABLE_KEYS.get(name)
    if key is None:
        return _diff_whole_rows(old, new, common, note="", **base)
    if not set(key) <= set(common):
        return _diff_whole_rows(old, new, common, note=f"key {', '.join(key)} is missing: "
                                "whole rows compared", **base)
    old_keys = list(old[list(key)].itertuples(index=False, name=None))
    new_keys = list(new[list(key)].itertuples(index=False, name=None))
    if len(set(old_keys)) < len(old_keys) or len(set(new_keys)) < len(new_keys):
        return _diff_whole_rows(old, new, common, note=f"key {', '.join(key)} is not unique: "
                                "whole rows compared", **base)

    in_both = set(old_keys) & set(new_keys)
    shared = sorted(in_both)
    values = [c for c in common if c not in key]
    old_pos = {k: i for i, k in enumerate(old_keys)}
    new_pos = {k: i for i, k in enumerate(new_keys)}
    a = old[values].to_numpy(dtype=object)[np.array([old_pos[k] for k in shared], dtype=np.intp)]
    b = new[values].to_numpy(dtype=object)[np.array([new_pos[k] for k in shared], dtype=np.intp)]
    differs = a != b
    within = 0
    for i, j in zip(*np.nonzero(differs)):
        if _close(a[i, j], b[i, j], rel_tol):
            differs[i, j] = False
            within += 1
    changed_rows = np.flatnonzero(differs.any(axis=1))
    return TableDiff(
        key=key,
        keyed=True,
        rows_added=tuple(sorted(set(new_keys) - in_both)),
        rows_removed=tuple(sorted(set(old_keys) - in_both)),
        rows_changed=len(changed_rows),
        changed_columns=tuple((c, int(n)) for c, n in zip(values, differs.sum(axis=0)) if n),
        examples=tuple(
            RowChange(shared[i], tuple(ValueChange(values[j], a[i, j], b[i, j])
                                       for j in np.flatnonzero(differs[i])))
            for i in changed_rows[:max_examples]
        ),
        order_changed=[k for k in old_keys if k in in_both] != [k for k in new_keys if k in in_both],
        within_tolerance=within,
        note="",
        **base,
    )


def _diff_whole_rows(old: pd.DataFrame, new: pd.DataFrame, common: list[str], **fields) -> TableDiff:
    old_rows = list(old[common].itertuples(index=False, name=None))
    new_rows = list(new[common].itertuples(index=False, name=None))
    old_count, new_count = Counter(old_rows), Counter(new_rows)
    added = tuple(sorted((new_count - old_count).elements()))
    removed = tuple(sorted((old_count - new_count).elements()))
    return TableDiff(
        key=tuple(common),
        keyed=False,
        rows_added=added,
        rows_removed=removed,
        order_changed=not added and not removed and old_rows != new_rows,
        **fields,
    )


def _close(a: str, b: str, rel_tol: float) -> bool:
    """True when both texts are finite numbers within ``rel_tol`` of each other."""
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    return math.isfinite(x) and math.isfinite(y) and math.isclose(x, y, rel_tol=rel_tol)


# ----------------------------------------------------------------------------- figures


def _pixels(data: bytes, source: Path | str) -> np.ndarray:
    """Decoded RGBA pixels of a PNG, as an (H, W, 4) array."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("RGBA"))
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise DataError(f"cannot decode the PNG {source}: {exc}. Run the suite again to "
                        "rewrite it.", path=source, kind="unreadable_figure") from exc


def diff_figures(name: str, old: Path, new: Path) -> FigureChange | None:
    """Compare two PNG files by their decoded pixels.

    Parameters
    ----------
    name : str
        Name reported for the figure.
    old, new : Path
        The two files.

    Returns
    -------
    FigureChange or None
        None when every pixel is the same (metadata and compression may differ).
    """
    old_bytes, new_bytes = old.read_bytes(), new.read_bytes()
    if old_bytes == new_bytes:
        return None
    a, b = _pixels(old_bytes, old), _pixels(new_bytes, new)
    size_old, size_new = (a.shape[1], a.shape[0]), (b.shape[1], b.shape[0])
    if a.shape != b.shape:
        return FigureChange(name, size_old, size_new, None, 1.0)
    changed = int((a != b).any(axis=-1).sum())
    if changed == 0:
        return None
    return FigureChange(name, size_old, size_new, changed, changed / (a.shape[0] * a.shape[1]))


# ----------------------------------------------------------------------------- notebooks


@dataclass(frozen=True)
class _Cell:
    """What is compared of one cell: type and source, then its outputs."""

    kind: str
    source: str
    outputs: tuple

    @property
    def text(self) -> tuple[str, str]:
        return self.kind, self.source


def _read_cells(path: Path, run_dir: Path) -> list[_Cell]:
    """The comparable content of an executed notebook's cells.

    The run's out_dir (the folder given and the one papermill recorded, which differs
    when the folder was moved) is replaced by :data:`OUT_DIR_TOKEN`.
    """
    try:
        nb = nbformat.read(path, as_version=4)
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read notebook {path}: {exc}. Run the suite again to "
                        "rewrite it.", path=path, kind="unreadable_notebook") from exc
    roots = {str(run_dir.resolve())}
    recorded = nb.metadata.get("papermill", {}).get("parameters", {}).get("out_dir")
    if isinstance(recorded, str) and recorded:
        roots.add(recorded)

    def norm(text: str) -> str:
        for root in sorted(roots, key=len, reverse=True):
            text = text.replace(root, OUT_DIR_TOKEN)
        return text

    return [_Cell(c.cell_type, norm(c.source), _outputs(c.get("outputs", []), norm, path))
            for c in nb.cells]


def _outputs(outputs: list, norm, path: Path) -> tuple:
    """Comparable outputs: stdout (consecutive chunks joined), data and errors.

    stderr is left out: it carries warnings with machine paths and progress bars.
    """
    items: list[tuple] = []
    for out in outputs:
        kind = out.get("output_type")
        if kind == "stream" and out.get("name") == "stdout":
            text = norm(out.get("text", ""))
            if items and items[-1][0] == "stdout":
                text = items.pop()[1] + text
            items.append(("stdout", text))
        elif kind in ("execute_result", "display_data"):
            data = out.get("data", {})
            items.append((kind, tuple((m, _output_value(m, data[m], norm, path))
                                      for m in COMPARED_MIMETYPES if m in data)))
        elif kind == "error":
            items.append(("error", out.get("ename", ""), norm(out.get("evalue", ""))))
    return tuple(items)


def _output_value(mimetype: str, value: str, norm, path: Path) -> str:
    """Text with the out_dir replaced, or for PNG data a digest of the decoded pixels."""
    if mimetype != "image/png":
        return norm(value)
    try:
        data = base64.b64decode(value)
    except binascii.Error as exc:
        raise DataError(f"an image/png output of notebook {path} is not base64: {exc}. Run "
                        "the suite again to rewrite it.", path=path,
                        kind="unreadable_notebook") from exc
    pixels = _pixels(data, path)
    return f"{pixels.shape} {hashlib.sha256(pixels.tobytes()).hexdigest()}"


def _diff_cells(old: list[_Cell], new: list[_Cell]) -> tuple[CellChange, ...]:
    """Changed, added and removed cells, aligned by their sources.

    Cells are aligned like lines in a text diff (:class:`difflib.SequenceMatcher` on
    type and source), so one inserted cell does not mark every later cell as changed.
    """
    matcher = difflib.SequenceMatcher(a=[c.text for c in old], b=[c.text for c in new],
                                      autojunk=False)
    changes = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        paired = min(i2 - i1, j2 - j1)
        for i, j in zip(range(i1, i1 + paired), range(j1, j1 + paired)):
            what = [] if tag == "equal" else ["source"]
            if old[i].outputs != new[j].outputs:
                what.append("outputs")
            if what:
                changes.append(CellChange(j, ", ".join(what), _first_line(new[j].source)))
        changes += [CellChange(i, "removed", _first_line(old[i].source))
                    for i in range(i1 + paired, i2)]
        changes += [CellChange(j, "added", _first_line(new[j].source))
                    for j in range(j1 + paired, j2)]
    return tuple(changes)


def _first_line(source: str) -> str:
    return next((line.strip() for line in source.splitlines() if line.strip()), "")


# ----------------------------------------------------------------------------- manifest


def _read_manifest(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path}: {exc}. Run the suite again to rewrite it.",
                        path=path, kind="unreadable_manifest") from exc


def _flatten(value, prefix: str = "") -> dict[str, str]:
    """Leaves of nested dicts by dotted name, each as JSON text."""
    if isinstance(value, dict) and value:
        out: dict[str, str] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix.removesuffix("."): json.dumps(value, sort_keys=True)}


def _manifest_changes(old: Path, new: Path) -> tuple[ValueChange, ...]:
    a, b = _read_manifest(old), _read_manifest(new)
    if a is None and b is None:
        return ()
    if a is None or b is None:
        return (ValueChange("manifest.json", "present" if a is not None else MISSING,
                            "present" if b is not None else MISSING),)
    fa, fb = _flatten(a), _flatten(b)
    return tuple(ValueChange(k, fa.get(k, MISSING), fb.get(k, MISSING))
                 for k in sorted(fa.keys() | fb.keys()) if fa.get(k) != fb.get(k))


# ----------------------------------------------------------------------------- text


def _short(text: str, width: int = 60) -> str:
    text = text.replace("\n", "\\n")
    return text if len(text) <= width else text[: width - 3] + "..."


def _key_text(names: tuple[str, ...], values: tuple[str, ...]) -> str:
    return ", ".join(f"{n}={_short(v, 40)}" for n, v in zip(names, values))


def _rows_text(sign: str, rows: tuple[tuple[str, ...], ...], t: TableDiff, limit: int) -> list[str]:
    if not rows:
        return []
    word = "row" if len(rows) == 1 else "rows"
    lines = [f"    {sign} {len(rows)} {word} {'added' if sign == '+' else 'removed'}"]
    lines += [f"      {_key_text(t.key, r)}" for r in rows[:limit]]
    if len(rows) > limit:
        lines.append(f"      ... and {len(rows) - limit} more")
    return lines


def _table_text(t: TableDiff, limit: int) -> list[str]:
    how = f"key {', '.join(t.key)}" if t.keyed else "whole rows"
    lines = [f"  {t.name}: {t.rows_old} -> {t.rows_new} rows ({how})"]
    if t.note:
        lines.append(f"    note: {t.note}")
    if t.columns_added:
        lines.append(f"    columns added: {', '.join(t.columns_added)}")
    if t.columns_removed:
        lines.append(f"    columns removed: {', '.join(t.columns_removed)}")
    lines += _rows_text("+", t.rows_added, t, limit)
    lines += _rows_text("-", t.rows_removed, t, limit)
    if t.rows_changed:
        counts = ", ".join(f"{c} ({n})" for c, n in t.changed_columns)
        lines.append(f"    ~ {t.rows_changed} row{'s' if t.rows_changed > 1 else ''} changed: "
                     f"{counts}")
        for ex in t.examples:
            values = "; ".join(f"{v.name} {_short(v.old, 30)} -> {_short(v.new, 30)}"
                               for v in ex.values)
            lines.append(f"      {_key_text(t.key, ex.key)}: {values}")
    if t.order_changed:
        lines.append("    row order changed")
    return lines


def format_diff(d: RunDiff) -> str:
    """A short plain-text summary of a :class:`RunDiff`, in a stable order.

    Sections come in a fixed order (manifest, tables, figures, notebooks), names sorted
    within each; the last line says whether the runs are identical.

    Parameters
    ----------
    d : RunDiff

    Returns
    -------
    str
        The summary, without a trailing newline.
    """
    lines = [f"old: {d.old}", f"new: {d.new}", ""]

    if d.manifest:
        lines.append("manifest (tables/manifest.json) differs:")
        lines += [f"  {v.name}: {_short(v.old)} -> {_short(v.new)}" for v in d.manifest]
    else:
        lines.append("manifest: same")

    differing = [t for t in d.tables if not t.identical]
    lines.append(f"tables: {len(d.tables)} compared, {len(differing)} differ")
    lines += [f"  added: {n}" for n in d.tables_added]
    lines += [f"  removed: {n}" for n in d.tables_removed]
    for t in differing:
        lines += _table_text(t, d.max_examples)
    within = sum(t.within_tolerance for t in d.tables)
    if within:
        lines.append(f"  {within} value(s) differ as text but agree within rel_tol {d.rel_tol:g}")

    lines.append(f"figures: {d.figures_compared} compared, {len(d.figures_changed)} differ")
    lines += [f"  added: {n}" for n in d.figures_added]
    lines += [f"  removed: {n}" for n in d.figures_removed]
    for f in d.figures_changed:
        if f.pixels_changed is None:
            lines.append(f"  changed: {f.name}: size {f.size_old[0]}x{f.size_old[1]} -> "
                         f"{f.size_new[0]}x{f.size_new[1]}")
        else:
            lines.append(f"  changed: {f.name}: {f.pixels_changed} px "
                         f"({100 * f.share:.3g}% of {f.size_new[0]}x{f.size_new[1]})")

    changed_nbs = [n for n in d.notebooks if n.cells]
    lines.append(f"notebooks: {len(d.notebooks)} compared, {len(changed_nbs)} differ")
    lines += [f"  added: {n}" for n in d.notebooks_added]
    lines += [f"  removed: {n}" for n in d.notebooks_removed]
    for n in changed_nbs:
        lines.append(f"  {n.name}:")
        lines += [f"    cell {c.index} {c.what}: {_short(c.first_line)}" for c in n.cells]

    lines += ["", "identical" if d.identical else "differences found"]
    return "\n".join(lines)
