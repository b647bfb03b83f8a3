"""End to end: every notebook of the suite run by papermill on generated data.

The demo generator returns the ground truth of what it wrote; the tables of the
run must agree with it exactly, and every section's HTML must hold its figures.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from eda_lib import config
from eda_lib.analysis.summary import REST_NOT_APPLICABLE
from eda_lib.dataset import demo
from eda_lib.report import runner

pytestmark = pytest.mark.slow
NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


@pytest.fixture
def run(demo_report):
    return demo_report


def _table(cfg, name):
    import pandas as pd

    return pd.read_csv(cfg.out_dir / "tables" / f"{name}.csv", dtype={"case_id": str},
                       keep_default_na=False, na_values=[""])


def test_every_notebook_ran(run):
    cfg, _, result = run
    names = [r.name for r in result.records]
    assert names == sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.py"))
    failed = {r.name: r.error for r in result.records if r.status != "ok"}
    assert not failed
    assert result.ok


def test_images_table_matches_truth(run):
    cfg, truth, _ = run
    images = _table(cfg, "images")
    got = {(r.split, r.label if isinstance(r.label, str) else "", r.case_id):
           (r.path, r.width, r.height, r.mode, r.file_bytes) for r in images.itertuples()}
    want = {(t["split"], t["label"], t["case_id"]):
            (t["path"], t["width"], t["height"], t["mode"], t["file_bytes"]) for t in truth["images"]}
    assert got == want
    forged_ids = {(t["split"], t["case_id"]) for t in truth["images"] if t["label"] == "forged"}
    auth_ids = {(t["split"], t["case_id"]) for t in truth["images"] if t["label"] == "authentic"}
    for r in images.itertuples():
        if r.label == "forged":
            assert r.twin == ((r.split, r.case_id) in auth_ids)
            assert r.has_mask
        elif r.label == "authentic":
            assert r.twin == ((r.split, r.case_id) in forged_ids)
            assert not r.has_mask  # the stem-lookup pitfall


def test_masks_and_instances_match_truth(run):
    cfg, truth, _ = run
    masks = _table(cfg, "masks")
    got = {(r.split, r.case_id): (r.n_instances, r.union_px, r.height, r.width, r.status)
           for r in masks.itertuples()}
    want = {(t["split"], t["case_id"]): (t["n_instances"], t["union_px"], t["height"], t["width"], "ok")
            for t in truth["masks"]}
    assert got == want
    fractions = masks.set_index(["split", "case_id"])["union_frac"]
    for t in truth["masks"]:
        assert fractions[(t["split"], t["case_id"])] == pytest.approx(
            t["union_px"] / (t["height"] * t["width"]))
    inst = _table(cfg, "instances")
    got = {(r.split, r.case_id, r.instance): r.area_px for r in inst.itertuples()}
    want = {(t["split"], t["case_id"], t["instance"]): t["area_px"] for t in truth["instances"]}
    assert got == want
    assert inst["compactness"].between(0, 1, inclusive="right").all()


def test_no_problems_on_clean_data(run):
    cfg, _, _ = run
    assert len(_table(cfg, "problems")) == 0


def test_each_html_holds_its_figures(run):
    cfg, _, result = run
    figures = cfg.out_dir / "figures"
    for record in result.records:
        prefix = record.name[:2]
        saved = sorted(figures.glob(f"{prefix}_*.png"))
        html = (cfg.out_dir / "html" / f"{record.name}.html").read_text(encoding="utf-8")
        images = len(re.findall(r"<img[^>]+src=\"data:image/png;base64,", html))
        assert images >= len(saved), record.name
        if not record.name.endswith("_summary"):
            assert saved, f"{record.name} saved no figure"


def test_executed_notebooks_and_index(run):
    cfg, _, result = run
    index = (cfg.out_dir / "index.html").read_text(encoding="utf-8")
    for record in result.records:
        assert f"html/{record.name}.html" in index
        nb = nbformat.read(cfg.out_dir / "notebooks" / f"{record.name}.ipynb", as_version=4)
        errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                  if o.get("output_type") == "error"]
        assert not errors, record.name


def test_summary_is_computed_from_tables(run):
    cfg, truth, _ = run
    summary = _table(cfg, "summary")
    text = " ".join(summary["text"])
    n_forged = sum(t["label"] == "forged" for t in truth["images"])
    n_auth = sum(t["label"] == "authentic" for t in truth["images"])
    assert f"{n_auth} authentic, {n_forged} forged" in text
    assert "nan" not in text.lower()


def _iou(a, b) -> float:
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]) + 1)
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]) + 1)
    inter = ix * iy
    area = lambda r: (r[2] - r[0] + 1) * (r[3] - r[1] + 1)  # noqa: E731
    return inter / (area(a) + area(b) - inter)


def test_copy_move_table_recovers_the_generator_copies(run):
    cfg, truth, _ = run
    cm = _table(cfg, "copy_move").set_index(["split", "case_id", "instance"])
    want = {(t["split"], t["case_id"], t["instance"]): t for t in truth["instances"]}
    assert set(cm.index) == set(want)  # one row per instance
    copies = cm[cm["verdict"] == "copy"]
    assert len(copies) >= len(cm) // 3
    for key, row in copies.iterrows():
        t = want[key]
        assert t["textured"], key  # a flat region is never called a copy
        assert row["transform"] == t["transform"], key
        source = [row[f"source_{k}"] for k in ("x1", "y1", "x2", "y2")]
        assert _iou(source, t["source_box"]) >= 0.5, key
    checks = _table(cfg, "label_check")
    twins = {(t["split"], t["case_id"]) for t in truth["images"] if t["label"] == "authentic"}
    assert set(zip(checks["split"], checks["case_id"])) == twins
    assert (checks["changed_outside_mask_px"] == 0).all()  # the generator edits only the copies


def test_every_image_is_screened_and_every_pair_fits_its_image(run):
    from eda_lib.dataset import metric
    from eda_lib.tables import read_tables

    cfg, truth, _ = run
    t = read_tables(cfg.out_dir / "tables")
    images = t.images.set_index(["split", "label", "case_id"], drop=False)
    assert set(images["screen_status"]) <= {"screened", "too_small", "too_flat"}
    assert len(images) == len(truth["images"])
    labelled = images[images["label"].isin(["authentic", "forged"])]
    assert labelled["screen_of1"].between(0, 1).all()
    assert set(t.screening["verdict"]) <= {"copy", "unsure", "rejected"}
    for row in t.screening.itertuples():
        image = images.loc[(row.split, row.label, row.case_id)]
        for end in ("source", "target"):
            x1, y1, x2, y2 = (getattr(row, f"{end}_{k}") for k in ("x1", "y1", "x2", "y2"))
            assert 0 <= x1 <= x2 < image["width"] and 0 <= y1 <= y2 < image["height"], row
        if row.verdict == "copy":
            drawn = metric.parse_annotation(row.annotation, (image["height"], image["width"]))
            assert len(drawn) == 1 and drawn[0].any()
    copies = t.screening[t.screening["verdict"] == "copy"]
    counts = copies.groupby(["split", "label", "case_id"]).size()
    screened = images[images["screen_status"] == "screened"]
    assert (screened["screen_copies"] == counts.reindex(screened.index, fill_value=0)).all()
    page = (cfg.out_dir / "html" / "10_screening.html").read_text(encoding="utf-8")
    assert "Blind screen" in page
    # labelled images: the parts that judge the screen against the labels are shown
    assert "Authentic images flagged" in page and "Forged training images" in page
    assert REST_NOT_APPLICABLE not in page


def test_a_cold_run_reads_each_file_once_and_a_warm_run_none(tmp_path, monkeypatch):
    """A whole run, every notebook included, decodes each image and loads each mask once:
    the galleries draw from the views the pass stored. A second run reads nothing, even
    with every notebook executed again."""
    import shutil
    from collections import Counter

    from eda_lib import trace

    log = tmp_path / "trace.log"
    monkeypatch.setenv(trace.ENV, str(log))
    data = tmp_path / "data"
    demo.generate(data, forged=6, seed=8, size_scale=0.15, supplemental=0)
    cfg = config.make_config({"data_dir": str(data), "out_dir": str(tmp_path / "out"),
                              "workers": 2, "progress": False, "max_grid_images": 2})

    def reads() -> Counter:
        lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
        log.unlink(missing_ok=True)
        return Counter(line.split("\t")[1] for line in lines)

    result = runner.run(cfg, progress=False)
    assert result.ok and not any(r.reused for r in result.records)
    files = [str(p) for p in data.rglob("*") if p.suffix in (".png", ".npy")]
    assert reads() == Counter(files)  # each exactly once, galleries included
    drawn = {p.stem for p in (cfg.out_dir / "figures").glob("*.png")}
    assert {"05_example", "05_grid", "05_authentic_vs_forged"} <= drawn  # galleries were drawn
    for prefix in ("05_twin_", "06_least_", "10_control_"):
        assert any(name.startswith(prefix) for name in drawn), prefix
    shutil.rmtree(cfg.out_dir / "html")  # no page to keep: every notebook runs again
    again = runner.run(cfg, progress=False)
    assert again.ok and not any(r.reused for r in again.records)
    assert reads() == Counter()


def _without_timing(nb: dict) -> dict:
    """A notebook with papermill's and the kernel's timing metadata removed."""
    nb = nbformat.from_dict(nb)
    for key in ("start_time", "end_time", "duration"):
        nb.metadata.get("papermill", {}).pop(key, None)
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        for key in ("start_time", "end_time", "duration"):
            cell.metadata.get("papermill", {}).pop(key, None)
    return nb


def test_two_runs_write_identical_files(run, tmp_path):
    """Same data and parameters: tables, figures and HTML byte for byte; notebooks too,
    apart from timing metadata."""
    import shutil

    cfg, _, _ = run
    first = tmp_path / "first"
    shutil.copytree(cfg.out_dir, first, ignore=shutil.ignore_patterns("cache"))
    again = runner.run(cfg, progress=False, use_cache=False)
    assert again.ok and not any(r.reused for r in again.records)
    compared = 0
    for old in sorted(first.rglob("*")):
        rel = old.relative_to(first)
        new = cfg.out_dir / rel
        if old.is_dir() or rel.parts[0] not in ("tables", "figures", "html", "notebooks"):
            continue
        if old.suffix == ".ipynb":
            a, b = (_without_timing(nbformat.read(p, as_version=4)) for p in (old, new))
            assert a == b, rel
        else:
            assert old.read_bytes() == new.read_bytes(), rel
        compared += 1
    assert compared > 30


def _figures(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((folder / "figures").glob("*.png"))}


def test_a_warm_run_writes_back_missing_figures_and_stale_links(run, tmp_path):
    """Figures deleted since, or a page whose neighbours' links are not what the suite
    would write now, are put right from the saved notebooks, none of them executed."""
    import shutil

    cfg, _, _ = run
    out = tmp_path / "out"
    shutil.copytree(cfg.out_dir, out)
    cfg = cfg.replace(out_dir=out)
    assert runner.run(cfg, progress=False).ok  # its own out_dir: every notebook runs again
    before = _figures(out)
    page = out / "html" / "03_masks.html"
    original = page.read_text(encoding="utf-8")
    assert 'rel="prev"' in original
    page.write_text(original.replace('rel="prev"', 'rel="gone"'), encoding="utf-8")
    shutil.rmtree(out / "figures")
    again = runner.run(cfg, progress=False)
    assert again.ok and all(r.reused for r in again.records)
    assert _figures(out) == before
    assert page.read_text(encoding="utf-8") == original


def test_a_section_that_runs_again_leaves_none_of_its_old_figures(run, tmp_path):
    """Without the screen, section 10 shows none of its figures: none is left behind,
    and every figure left is one a page shows."""
    import shutil

    cfg, _, _ = run
    out = tmp_path / "out"
    shutil.copytree(cfg.out_dir, out)
    assert any(name.startswith("10_control_") for name in _figures(out))
    result = runner.run(cfg.replace(out_dir=out, screening=False), progress=False)
    assert result.ok
    left = set(_figures(out))
    assert not any(name.startswith("10_") for name in left)
    shown = set()
    for path in (out / "notebooks").glob("*.ipynb"):
        shown |= runner.figure_files(nbformat.read(path, as_version=4))
    assert left == shown
