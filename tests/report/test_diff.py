"""Comparing two runs' output folders: what counts as a difference and what does not."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output
from PIL import Image, PngImagePlugin

from eda_lib.errors import ConfigError, DataError
from eda_lib.report.diff import TABLE_KEYS, diff_runs, diff_tables, format_diff
from eda_lib.tables import SCHEMAS

IMAGES = {
    "case_id": ["10", "10", "25"],
    "split": ["train", "train", "train"],
    "label": ["authentic", "forged", "forged"],
    "width": ["60", "60", "30"],
    "aspect": ["1.5", "1.5", "1.0"],
}
MASKS = {"case_id": ["10", "25"], "split": ["train", "train"], "n_instances": ["1", "2"]}
MANIFEST = {"analysis_version": "2", "data": {"files": 9, "sha256": "abc"},
            "params": {"copy_move": True}}


def _png(pixels: np.ndarray, text: dict[str, str] | None = None) -> bytes:
    info = PngImagePlugin.PngInfo()
    for k, v in (text or {}).items():
        info.add_text(k, v)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


FIGURE = np.arange(8 * 6 * 3, dtype=np.uint8).reshape(8, 6, 3)


def _notebook(out_dir: Path, stamp: int, stdout: list[str]) -> nbformat.NotebookNode:
    """An executed notebook as papermill writes it; ``stamp`` sets every timing field."""
    when = f"2026-01-0{stamp + 1}T00:00:0{stamp}+00:00"
    timing = {"papermill": {"duration": 0.5 + stamp, "start_time": when, "end_time": when,
                            "status": "completed", "exception": False},
              "execution": {"iopub.execute_input": when, "shell.execute_reply": when}}
    nb = new_notebook(metadata={
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python", "version": f"3.11.{stamp}"},
        "papermill": {"duration": 3.0 + stamp, "start_time": when, "end_time": when,
                      "parameters": {"out_dir": str(out_dir)}, "version": "2.7.0"},
        "widgets": {"application/vnd.jupyter.widget-state+json": {"state": {f"m{stamp}": {}}}},
    })
    nb.cells = [
        new_markdown_cell("# 1. Index\n\nCounts.", metadata=dict(timing)),
        new_code_cell(f'# Parameters\nout_dir = "{out_dir}"\n', execution_count=1 + stamp,
                      metadata={"tags": ["injected-parameters"], **timing}),
        new_code_cell("s = eda_lib.start(globals())\nprint(len(s.tables.images), 'images')",
                      execution_count=2 + stamp, metadata=dict(timing), outputs=[
                          new_output("stream", name="stdout", text=t) for t in stdout
                      ] + [new_output("stream", name="stderr", text=f"took {stamp} s\n")]),
        new_code_cell("fig = plots.bar_counts(t.images)", execution_count=3 + stamp,
                      metadata=dict(timing), outputs=[new_output(
                          "display_data",
                          data={"text/plain": "<Figure size 640x480 with 1 Axes>",
                                "image/png": base64.b64encode(
                                    _png(FIGURE, {"Software": f"mpl {stamp}"})).decode()},
                      )]),
        new_code_cell("t.images", execution_count=4 + stamp, metadata=dict(timing), outputs=[
            new_output("execute_result", execution_count=4 + stamp,
                       data={"text/plain": "   case_id\n0  10", "text/html": "<table/>"})]),
    ]
    return nb


def make_run(out: Path, stamp: int = 0, stdout: tuple[str, ...] = ("3 images\n",)) -> Path:
    """A small output folder: two tables, a manifest, two figures and one notebook."""
    (out / "tables").mkdir(parents=True)
    pd.DataFrame(IMAGES).to_csv(out / "tables/images.csv", index=False)
    pd.DataFrame(MASKS).to_csv(out / "tables/masks.csv", index=False)
    (out / "tables/manifest.json").write_text(json.dumps(MANIFEST), encoding="utf-8")
    (out / "figures").mkdir()
    (out / "figures/01_counts.png").write_bytes(_png(FIGURE, {"Software": f"mpl {stamp}"}))
    (out / "figures/02_sizes.png").write_bytes(_png(FIGURE[::-1]))
    (out / "notebooks").mkdir()
    nbformat.write(_notebook(out.resolve(), stamp, list(stdout)), out / "notebooks/01_index.ipynb")
    return out


@pytest.fixture
def runs(tmp_path) -> tuple[Path, Path]:
    """Two runs of the same inputs, written to different folders at different times."""
    return make_run(tmp_path / "old", stamp=0), make_run(tmp_path / "new", stamp=1)


def _edit_table(path: Path, edit) -> None:
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    edit(df).to_csv(path, index=False)


def _edit_notebook(path: Path, edit) -> None:
    nb = nbformat.read(path, as_version=4)
    edit(nb)
    nbformat.write(nb, path)


# ----------------------------------------------------------------------------- identical


def test_identical_runs_are_identical(runs):
    old, new = runs
    d = diff_runs(old, new)
    assert d.identical
    assert (len(d.tables), d.figures_compared, len(d.notebooks)) == (2, 2, 1)
    assert format_diff(d).splitlines()[-1] == "identical"


def test_timing_and_execution_metadata_do_not_count(runs):
    old, new = runs
    name = "notebooks/01_index.ipynb"
    assert (old / name).read_bytes() != (new / name).read_bytes()
    assert str(old.resolve()) in nbformat.read(old / name, as_version=4).cells[1].source
    assert (old / "figures/01_counts.png").read_bytes() != (new / "figures/01_counts.png").read_bytes()
    d = diff_runs(old, new)
    assert d.notebooks[0].cells == ()
    assert d.figures_changed == ()


def test_stdout_split_into_other_chunks_is_the_same_output(tmp_path):
    old = make_run(tmp_path / "old", stdout=("3 images\n",))
    new = make_run(tmp_path / "new", stdout=("3 ", "images\n"))
    assert diff_runs(old, new).identical


# ----------------------------------------------------------------------------- tables


def test_changed_value_is_reported_by_key_with_old_and_new(runs):
    old, new = runs

    def edit(df):
        df.loc[(df["label"] == "forged") & (df["case_id"] == "10"), "width"] = "61"
        return df

    _edit_table(new / "tables/images.csv", edit)
    d = diff_runs(old, new)
    images = next(t for t in d.tables if t.name == "images")
    assert not d.identical
    assert (images.rows_changed, images.changed_columns) == (1, (("width", 1),))
    assert images.examples[0].key == ("train", "forged", "10")
    assert [(v.name, v.old, v.new) for v in images.examples[0].values] == [("width", "60", "61")]
    assert "split=train, label=forged, case_id=10: width 60 -> 61" in format_diff(d)


def test_added_row_is_reported_by_key(runs):
    old, new = runs
    row = pd.DataFrame({"case_id": ["31"], "split": ["supplemental"], "n_instances": ["3"]})
    _edit_table(new / "tables/masks.csv", lambda df: pd.concat([df, row]))
    masks = next(t for t in diff_runs(old, new).tables if t.name == "masks")
    assert (masks.rows_old, masks.rows_new) == (2, 3)
    assert masks.rows_added == (("supplemental", "31"),)
    assert masks.rows_removed == () and masks.rows_changed == 0


def test_removed_table_and_column_are_reported(runs):
    old, new = runs
    (new / "tables/masks.csv").unlink()
    _edit_table(new / "tables/images.csv", lambda df: df.drop(columns="aspect"))
    d = diff_runs(old, new)
    assert d.tables_removed == ("masks",) and d.tables_added == ()
    (images,) = d.tables
    assert images.columns_removed == ("aspect",) and images.rows_changed == 0
    assert "  removed: masks" in format_diff(d).splitlines()


def test_numbers_within_tolerance_are_equal_unless_tolerance_is_zero(runs):
    old, new = runs
    _edit_table(new / "tables/images.csv",
                lambda df: df.assign(aspect=df["aspect"].replace("1.5", "1.5000000000000002")))
    images = next(t for t in diff_runs(old, new).tables if t.name == "images")
    assert images.identical and images.within_tolerance == 2
    exact = next(t for t in diff_runs(old, new, rel_tol=0).tables if t.name == "images")
    assert exact.rows_changed == 2 and exact.changed_columns == (("aspect", 2),)


def test_reordered_rows_are_reported(runs):
    old, new = runs
    _edit_table(new / "tables/images.csv", lambda df: df.iloc[::-1])
    images = next(t for t in diff_runs(old, new).tables if t.name == "images")
    assert images.order_changed and images.rows_changed == 0 and not images.rows_added


def test_unknown_table_and_duplicate_keys_compare_whole_rows():
    old = pd.DataFrame({"case_id": ["1", "1"], "split": ["train", "train"], "n": ["2", "3"]})
    new = pd.DataFrame({"case_id": ["1", "1"], "split": ["train", "train"], "n": ["2", "4"]})
    for name in ("masks", "notes"):
        t = diff_tables(name, old, new)
        assert not t.keyed
        assert (t.rows_added, t.rows_removed) == ((("1", "train", "4"),), (("1", "train", "3"),))
    assert "not unique" in diff_tables("masks", old, new).note


def test_every_table_of_the_schema_has_a_key_of_its_columns():
    for name, columns in SCHEMAS.items():
        assert set(TABLE_KEYS[name]) <= {c.name for c in columns}, name


# ----------------------------------------------------------------------------- figures


def test_one_changed_pixel_is_reported_with_its_share(runs):
    old, new = runs
    pixels = FIGURE.copy()
    pixels[3, 2, 1] ^= 1
    (new / "figures/01_counts.png").write_bytes(_png(pixels))
    d = diff_runs(old, new)
    (change,) = d.figures_changed
    assert (change.name, change.pixels_changed) == ("01_counts.png", 1)
    assert change.share == pytest.approx(1 / 48)
    assert not d.identical


def test_unreadable_figure_is_a_data_error_naming_the_file(runs):
    old, new = runs
    (new / "figures/01_counts.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match="01_counts.png") as err:
        diff_runs(old, new)
    assert err.value.path == new / "figures/01_counts.png"


def test_figure_of_another_size_and_added_figure(runs):
    old, new = runs
    (new / "figures/02_sizes.png").write_bytes(_png(FIGURE[:4]))
    (new / "figures/03_new.png").write_bytes(_png(FIGURE))
    d = diff_runs(old, new)
    assert d.figures_added == ("03_new.png",)
    (change,) = d.figures_changed
    assert (change.size_old, change.size_new, change.pixels_changed) == ((6, 8), (6, 4), None)


# ----------------------------------------------------------------------------- notebooks


def test_changed_output_is_reported_with_cell_index_and_first_line(runs):
    old, new = runs

    def edit(nb):
        nb.cells[4].outputs[0].data["text/plain"] = "   case_id\n0  11"

    _edit_notebook(new / "notebooks/01_index.ipynb", edit)
    d = diff_runs(old, new)
    assert [(c.index, c.what, c.first_line) for c in d.notebooks[0].cells] == [
        (4, "outputs", "t.images")]
    assert "    cell 4 outputs: t.images" in format_diff(d).splitlines()


def test_changed_plot_and_error_are_outputs_changes(runs):
    old, new = runs
    pixels = FIGURE.copy()
    pixels[0, 0] = 255

    def error(ename):
        def edit(nb):
            nb.cells[4].outputs = [new_output("error", ename=ename, evalue="'x'", traceback=[])]
        return edit

    def plot(nb):
        nb.cells[3].outputs[0].data["image/png"] = base64.b64encode(_png(pixels)).decode()

    _edit_notebook(old / "notebooks/01_index.ipynb", error("KeyError"))
    _edit_notebook(new / "notebooks/01_index.ipynb", error("IndexError"))
    _edit_notebook(new / "notebooks/01_index.ipynb", plot)
    cells = diff_runs(old, new).notebooks[0].cells
    assert [(c.index, c.what) for c in cells] == [(3, "outputs"), (4, "outputs")]


def test_inserted_cell_is_added_and_later_cells_still_match(runs):
    old, new = runs
    _edit_notebook(new / "notebooks/01_index.ipynb",
                   lambda nb: nb.cells.insert(3, new_markdown_cell("## A new section")))
    cells = diff_runs(old, new).notebooks[0].cells
    assert [(c.index, c.what, c.first_line) for c in cells] == [(3, "added", "## A new section")]


def test_changed_parameter_is_a_source_change(runs):
    old, new = runs

    def edit(nb):
        nb.cells[1].source += "seed = 7\n"

    _edit_notebook(new / "notebooks/01_index.ipynb", edit)
    (change,) = diff_runs(old, new).notebooks[0].cells
    assert (change.index, change.what, change.first_line) == (1, "source", "# Parameters")


# ----------------------------------------------------------------------------- manifest, folders


def test_manifest_differences_name_the_fields(runs):
    old, new = runs
    manifest = {**MANIFEST, "data": {"files": 10, "sha256": "def"}}
    (new / "tables/manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    d = diff_runs(old, new)
    assert [(v.name, v.old, v.new) for v in d.manifest] == [
        ("data.files", "9", "10"), ("data.sha256", '"abc"', '"def"')]
    assert not d.identical


def test_missing_folder_is_a_config_error_naming_it(runs, tmp_path):
    old, _ = runs
    with pytest.raises(ConfigError, match=re.escape(f"{tmp_path / 'nowhere'} does not exist")):
        diff_runs(old, tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="not the out_dir of a run"):
        diff_runs(tmp_path / "empty", old)
