"""A flat folder of images (no competition layout) runs the whole report.

The sections that need masks, labels or twins say at their top that they do not apply and
why, and show nothing else; the others describe the images; the index page says which
sections do not apply; the data folder is only read.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import nbformat
import pandas as pd
import pytest
from hostile import make_flat_folder
from matplotlib.text import Text
from PIL import Image
from test_hostile import tree_digest

from eda_lib import config, datapass
from eda_lib.analysis import stats, summary
from eda_lib.report import pages, plots, runner, session

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def _cfg(data: Path, out: Path, **kw) -> config.Config:
    return config.make_config({"data_dir": str(data), "out_dir": str(out), "workers": 1,
                               "progress": False, **kw})


@pytest.fixture(scope="module")
def flat_tables(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("flat")
    make_flat_folder(tmp / "figs")
    return datapass.load_tables(_cfg(tmp / "figs", tmp / "out"))


def _frame(**columns) -> pd.DataFrame:
    return pd.DataFrame(columns)


def test_sections_that_need_masks_labels_or_twins_do_not_apply(flat_tables):
    gaps = summary.section_gaps(flat_tables)
    assert list(gaps) == ["03", "04", "05", "06", "08", "09"]
    assert all("flat folder of 5 unlabelled images" in gap for gap in gaps.values())
    assert "mask files" in gaps["03"] and "labelled authentic or forged" in gaps["08"]
    assert summary.section_gap(flat_tables, "07") == ""


def test_a_gap_names_what_the_competition_data_lacks():
    labelled = _frame(split=["train", "train"], label=["forged", "authentic"],
                      has_mask=[False, False], status=["ok", "ok"])
    no_masks = SimpleNamespace(images=labelled, masks=_frame(), instances=_frame())
    assert summary.section_gap(no_masks, "08") == ""
    assert summary.section_gap(no_masks, "03").endswith("and no mask file was found")
    test_only = SimpleNamespace(images=_frame(split=["test"], label=[""]), masks=_frame(),
                                instances=_frame())
    assert "no image of this dataset is labelled authentic or forged" in \
        summary.section_gap(test_only, "08")


def test_section_10_needs_the_screen_not_the_labels():
    """The blind screen looks at any image: section 10 applies to a flat folder, and
    does not apply to a run with ``screening: false``, whatever the data (an unreadable
    image, which has no status, does not change that)."""
    flat = SimpleNamespace(images=_frame(split=["unlabelled"], label=[""],
                                         screen_status=["screened"]),
                           masks=_frame(), instances=_frame())
    assert summary.section_gap(flat, "10") == ""
    off = SimpleNamespace(images=_frame(split=["train", "train", "test"],
                                        label=["forged", "authentic", ""],
                                        screen_status=["off", None, "off"]),
                          masks=_frame(), instances=_frame())
    assert summary.section_gap(off, "10").endswith("and this run had screening: false")
    assert summary.section_gap(off, "07") == ""


def test_the_summary_describes_the_images_and_names_the_sections_that_do_not_apply(flat_tables):
    text = summary.to_markdown(flat_tables)
    assert "5 images: 0 authentic, 0 forged, 0 test, 5 unlabelled" in text
    assert "Sections 3, 4, 5, 6, 8, 9 do not apply to this dataset" in text
    assert "Sizes of the images span" in text and "Image modes of the images" in text
    assert "nan" not in text


def test_section_7_says_what_duplicates_mean_in_a_folder_without_twins(flat_tables):
    """No twin sentence and no pointer to section 8 (which does not apply): duplicate
    sets in a folder of figures are what an integrity check looks for."""
    note = summary.duplicates_note(flat_tables)
    assert note.startswith("This is a flat folder of 5 unlabelled images, with no twins")
    assert "Twins" not in note and "section 8" not in note
    assert note.endswith("Here 0 images are in exact-duplicate sets and 0 in near-duplicate sets.")
    twice = flat_tables.health.assign(is_exact_duplicates_issue=[True, True, False, False, False])
    note = summary.duplicates_note(type(flat_tables)(**{**flat_tables.__dict__, "health": twice}))
    assert "Here 2 images are in exact-duplicate sets and 0 in near-duplicate sets: look at " \
        "every set" in note


def test_size_and_health_statistics_describe_the_unlabelled_images(flat_tables):
    t = flat_tables
    assert stats.described_images(t.images)["label"].unique().tolist() == ["(unlabelled)"]
    assert stats.geometry_by_label(t.images).index.tolist() == ["(unlabelled)"]
    assert stats.mode_counts(t.images).loc["total", "total"] == 5
    assert list(stats.health_counts(t.health).columns) == ["(unlabelled)", "total"]


def test_the_statement_is_printed_only_where_a_section_does_not_apply(flat_tables):
    text = session.not_applicable(flat_tables, "04")
    assert text.startswith(summary.NOT_APPLICABLE + ": it needs forged regions")
    assert text.endswith("The rest of this section is not run.")
    assert session.not_applicable(flat_tables, "04", skipped=False).endswith(
        "The cells below run on empty tables.")
    assert session.not_applicable(flat_tables, "02") == ""


def test_section_10_says_once_that_judging_the_screen_needs_labels(flat_tables, monkeypatch,
                                                                    capsys):
    """The parts of section 10 that read the labels are not run on a flat folder; one
    statement says why, and the page ends at it."""
    text = session.rest_not_applicable(flat_tables, "screen_labels")
    assert text == (summary.REST_NOT_APPLICABLE + ": it needs images labelled authentic or "
                    "forged (train_images/authentic/, train_images/forged/) to judge the "
                    "screen's findings against, and this dataset is a flat folder of 5 "
                    "unlabelled images: no label, mask or twin. It is not run.")
    shell = SimpleNamespace(input_transformers_post=[])
    monkeypatch.setattr(session, "get_ipython", lambda: shell)
    by_hand = session.Session(cfg=None, tables=flat_tables, section="10")
    by_hand.rest_needs("screen_labels")
    assert capsys.readouterr().out.endswith("The cells below run on empty tables.\n")
    assert shell.input_transformers_post == []
    by_runner = session.Session(cfg=None, tables=flat_tables, section="10", by_runner=True)
    by_runner.rest_needs("screen_labels")
    assert capsys.readouterr().out == text + "\n"
    assert len(shell.input_transformers_post) == 1
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("## False-positive controls"),
        nbformat.v4.new_markdown_cell("## Against the labels"),
        nbformat.v4.new_code_cell("s.rest_needs('screen_labels')", outputs=[
            nbformat.v4.new_output("stream", name="stdout", text=text + "\n")]),
        nbformat.v4.new_markdown_cell("### Authentic images flagged `copy`"),
    ])
    assert [c.source for c in pages.applicable_part(nb).cells][-1] == \
        "s.rest_needs('screen_labels')"


def test_section_10_judges_the_screen_on_labelled_images():
    labelled = SimpleNamespace(images=_frame(split=["train", "test"], label=["authentic", ""]),
                               masks=_frame(), instances=_frame())
    assert session.rest_not_applicable(labelled, "screen_labels") == ""
    test_only = SimpleNamespace(images=_frame(split=["test"], label=[""]), masks=_frame(),
                                instances=_frame())
    assert session.rest_not_applicable(test_only, "screen_labels").endswith(
        "and no image of this dataset is labelled authentic or forged. It is not run.")


def test_later_cells_are_skipped_in_the_kernel(monkeypatch):
    shell = SimpleNamespace(input_transformers_post=[])
    monkeypatch.setattr(session, "get_ipython", lambda: shell)
    assert session.skip_later_cells() and session.skip_later_cells()
    assert len(shell.input_transformers_post) == 1
    assert shell.input_transformers_post[0](["x = 1\n", "x\n"]) == []
    monkeypatch.setattr(session, "get_ipython", lambda: None)
    assert not session.skip_later_cells()


def test_a_page_ends_at_the_statement():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# 3. Masks"),
        nbformat.v4.new_code_cell("s = start()", outputs=[nbformat.v4.new_output(
            "stream", name="stdout", text=summary.NOT_APPLICABLE + ": it needs masks.\n")]),
        nbformat.v4.new_markdown_cell("## Checks"),
    ])
    assert [c.source for c in pages.applicable_part(nb).cells] == ["# 3. Masks", "s = start()"]
    assert len(nb.cells) == 3
    nb.cells[1].outputs = []
    assert pages.applicable_part(nb) is nb
    page = pages.section_page(pages.applicable_part(nb), "3. Masks", show_code=False,
                              nav=pages.SectionNav())
    assert "Checks" in page


def test_the_facts_leave_out_masks_and_twins(flat_tables):
    labels = [f.label for f in pages.dataset_facts(flat_tables)]
    assert labels == ["images", "problems"]


def test_the_sanity_checks_count_only_what_a_folder_can_hold(flat_tables):
    checks = stats.sanity_checks(flat_tables.images, flat_tables.masks, flat_tables.problems)
    assert checks["check"].tolist() == ["images", "unreadable images", "stray files"]
    assert checks["count"].iloc[0] == len(flat_tables.images)
    assert stats.twin_mode_pairs(flat_tables.images).empty


def test_figures_show_an_empty_label_and_save_a_nested_case_id(tmp_path):
    df = _frame(split=["unlabelled"] * 2, label=["", ""], mode=["RGB", "L"])
    fig = plots.bar_counts(df, "mode", hue="label", title="modes", xlabel="mode")
    assert "(none)" in [t.get_text() for t in fig.findobj(Text)]
    path = plots.save_figure(fig, tmp_path, "07_worst_paper/fig1")
    assert path == tmp_path / "07_worst_paper_fig1.png" and path.is_file()


@pytest.mark.slow
def test_the_whole_report_runs_on_a_flat_folder(tmp_path):
    data = tmp_path / "figures"
    make_flat_folder(data)
    (data / "notes.txt").write_text("where these figures come from\n")
    Image.new("RGB", (30, 20), "white").save(data / "panels" / "blank.png")
    before = tree_digest(data)
    cfg = _cfg(data, tmp_path / "out", workers=2, max_grid_images=4, display_size=256,
               grid_size=128)
    result = runner.run(cfg, progress=False)
    assert tree_digest(data) == before
    assert [r.name for r in result.records] == sorted(
        p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.py"))
    assert {r.name: r.error for r in result.records if r.status != "ok"} == {}
    index = (cfg.out_dir / "index.html").read_text(encoding="utf-8")
    assert "6 not applicable to this dataset (3, 4, 5, 6, 8, 9)" in index
    gaps = summary.section_gaps(_tables(cfg))
    for record in result.records:
        section = record.name.split("_", 1)[0]
        nb = nbformat.read(record.notebook, as_version=4)
        outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
        said = [o for o in outputs if o.get("text", "").startswith(summary.NOT_APPLICABLE)]
        if section in gaps:
            assert len(said) == 1, record.name
            assert "flat folder of 6 unlabelled images" in said[0]["text"]
            # nothing else: no empty table, no empty figure, no count of nothing
            assert outputs == said and said[0]["text"].strip().count("\n") == 0, record.name
            page = record.html.read_text(encoding="utf-8")
            assert summary.NOT_APPLICABLE in page and "Empty DataFrame" not in page
            assert f"Does not apply to this dataset: {summary.section_gap(_tables(cfg), section)}" \
                .replace("<", "&lt;").replace(">", "&gt;") in index
        else:
            assert said == [], record.name
    shown = {p.name.split("_", 1)[0] for p in (cfg.out_dir / "figures").glob("*.png")}
    assert {"01", "02", "07"} <= shown and not shown & set(gaps)
    index_page = (cfg.out_dir / "html" / "01_index.html").read_text(encoding="utf-8")
    assert "no authentic image has a forged twin" in index_page
    assert "forged without a mask" not in index_page
    health = (cfg.out_dir / "html" / "07_health.html").read_text(encoding="utf-8")
    assert "Twins are" not in health and "section 8" not in health
    assert "This is a flat folder of 6 unlabelled images, with no twins" in health
    screen = (cfg.out_dir / "html" / "10_screening.html").read_text(encoding="utf-8")
    assert screen.count(summary.REST_NOT_APPLICABLE) == 1
    for part in ("Authentic images flagged", "No authentic image", "Forged training images",
                 "No forged training image", "labelled forgeries a blind screen recovers"):
        assert part not in screen, part
    assert "False-positive controls" in screen


def _tables(cfg):
    return datapass.load_tables(cfg, build=False)


def test_baseline_and_validate_take_the_unlabelled_split(tmp_path, capsys):
    from eda_lib import cli
    from eda_lib.analysis import scoring
    from eda_lib.dataset import metric

    names = make_flat_folder(tmp_path / "figs")
    out = tmp_path / "sub.csv"
    args = ["baseline", "--data-dir", str(tmp_path / "figs"), "--out", str(out),
            "--out-dir", str(tmp_path / "run"), "--workers", "1"]
    assert cli.main(args) == 2
    assert "no test images to predict: its images are unlabelled; pass --split unlabelled" \
        in capsys.readouterr().err
    assert cli.main([*args, "--split", "unlabelled"]) == 0
    assert sorted(metric.read_submission(out)["case_id"]) == sorted(names)
    assert scoring.validate_file(out, tmp_path / "figs", split="unlabelled").empty
    assert cli.main(["validate", str(out), "--data-dir", str(tmp_path / "figs"),
                     "--split", "unlabelled"]) == 0
    capsys.readouterr()
    assert cli.main(["validate", str(out), "--data-dir", str(tmp_path / "figs")]) == 2
    assert "has no test images to check the submission against: its images are unlabelled; " \
        "pass --split unlabelled" in capsys.readouterr().err


def test_a_baseline_says_which_images_it_calls_authentic_without_screening_them(tmp_path, capsys):
    from eda_lib import cli
    from eda_lib.analysis import scoring

    names = make_flat_folder(tmp_path / "figs")
    (tmp_path / "figs" / "zero.png").write_bytes(b"")
    (tmp_path / "figs" / "cut.png").write_bytes((tmp_path / "figs" / f"{names[0]}.png")
                                                .read_bytes()[:60])
    out = tmp_path / "sub.csv"
    assert cli.main(["baseline", "--data-dir", str(tmp_path / "figs"), "--out", str(out),
                     "--out-dir", str(tmp_path / "run"), "--workers", "1",
                     "--split", "unlabelled"]) == 0
    said = capsys.readouterr().out
    assert "2 of them were not screened (" in said and "empty_file" in said
    assert "written as authentic without evidence, e.g. cut, zero" in said
    # the ids the baseline writes are the ids validate knows, readable or not
    assert scoring.validate_file(out, tmp_path / "figs", split="unlabelled").empty


def test_scoring_a_flat_folder_says_it_has_no_labels(tmp_path, capsys):
    from eda_lib import cli

    make_flat_folder(tmp_path / "figs")
    sub = tmp_path / "sub.csv"
    sub.write_text("case_id,annotation\nforged/a,authentic\n", encoding="utf-8")
    assert cli.main(["score", str(sub), "--data-dir", str(tmp_path / "figs")]) == 2
    err = capsys.readouterr().err
    assert "has no labelled training images" in err and "validate --split unlabelled" in err
