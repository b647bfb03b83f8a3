"""Table summaries and the analyst summary, on the tiny hand-made dataset."""

import pandas as pd
import pytest

from eda_lib.analysis import stats, summary
from eda_lib.config import make_config
from eda_lib.datapass import load_tables


@pytest.fixture
def tables(tiny_dataset, tmp_path):
    cfg = make_config({"data_dir": str(tiny_dataset), "out_dir": str(tmp_path / "out"),
                       "workers": 1, "progress": False})
    return load_tables(cfg)


def _counts(df):
    return dict(zip(df["check"], df["count"]))


def test_split_label_counts(tables):
    c = stats.split_label_counts(tables.images)
    assert c.loc["train", "authentic"] == 2 and c.loc["train", "forged"] == 3
    assert c.loc["test", "(unlabelled)"] == 1 and c.loc["total", "total"] == 6


def test_sanity_checks(tables):
    c = _counts(stats.sanity_checks(tables.images, tables.masks, tables.problems))
    assert c["forged with a mask"] == 2 and c["forged without a mask"] == 1
    assert c["twin pairs"] == 2 and c["forged without a twin"] == 1
    assert c["authentic without a forged twin"] == 0
    assert c["orphan masks"] == 1 and c["unreadable images"] == 0


def test_mask_checks_and_instances(tables):
    c = _counts(stats.mask_checks(tables.images, tables.masks))
    assert c["masks"] == 3 and c["stored (H, W) equals the image's"] == 2
    assert c["all-zero masks"] == 0 and c["refused"] == 0
    per = stats.instances_per_mask(tables.masks)
    assert per["masks"].to_dict() == {1: 1, 2: 1}


def test_twin_mode_pairs(tables):
    pairs = stats.twin_mode_pairs(tables.images)
    got = {(r["authentic mode"], r["forged mode"]): r["pairs"] for _, r in pairs.iterrows()}
    assert got == {("RGBA", "RGB"): 1, ("L", "L"): 1}
    assert pairs["same size"].all()


def test_geometry_and_common_sizes(tables):
    g = stats.geometry_by_label(tables.images)
    assert g.loc["forged", ("width", "max")] == 60
    sizes = stats.common_sizes(tables.images)
    assert sizes.loc["40 x 60", "total"] == 2


def test_copy_move_summaries(tables):
    cm = tables.copy_move
    assert len(cm) == 3  # one row per instance
    overview = stats.copy_move_overview(cm)
    assert overview.loc["total", "total"] == 3
    lq = _counts(stats.label_quality(tables.label_check))
    assert lq["images checked against their twin"] == 2
    marking = stats.source_marking(tables.instances, tables.label_check)
    assert marking["of"].iloc[0] == 3


def test_copy_distances():
    cm = pd.DataFrame({"split": ["train"], "case_id": ["1"], "dx": [30], "dy": [40]})
    images = pd.DataFrame({"split": ["train"], "case_id": ["1"], "label": ["forged"],
                           "width": [60], "height": [80]})
    d = stats.copy_distances(cm, images)
    assert d["distance_px"].iloc[0] == 50 and d["distance_frac"].iloc[0] == 0.5


def test_summary_numbers_come_from_the_tables(tables):
    text = summary.to_markdown(tables)
    assert "6 images: 2 authentic, 3 forged, 1 test." in text
    assert "2 of 3 forged images have a mask" in text
    assert "nan" not in text.lower()
    topics = {r.topic for r in summary.recommendations(tables)}
    assert "validation" in topics  # twins exist
    assert "data hygiene" in topics  # an orphan mask


def test_summary_without_twins_gives_no_grouping_advice(tables):
    no_twins = tables.images.assign(twin=False)
    t = type(tables)(**{**tables.__dict__, "images": no_twins})
    assert "validation" not in {r.topic for r in summary.recommendations(t)}


def test_health_counts_and_worst(tables):
    counts = stats.health_counts(tables.health)
    assert "dark" in counts.index and counts.loc["near_duplicates", "total"] >= 0
    flags = tables.health.filter(like="is_").astype(bool).sum().sum()
    assert counts["total"].sum() == flags
    for issue in counts.index[counts["total"] > 0]:
        w = stats.worst(tables.health, issue, 2)
        assert len(w) >= 1 and w[f"is_{issue}_issue"].all()
