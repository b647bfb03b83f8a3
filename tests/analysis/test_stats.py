"""Table summaries, on the tiny hand-made dataset (fixture ``tables``) and on tables
written by hand."""

import numpy as np
import pandas as pd

from eda_lib.analysis import stats
from eda_lib.measure.health import ISSUES
from eda_lib.tables import frame


def _counts(df):
    return dict(zip(df["check"], df["count"]))


def test_split_label_counts(tables):
    c = stats.split_label_counts(tables.images)
    assert c.loc["train", "authentic"] == 2 and c.loc["train", "forged"] == 3
    assert c.loc["test", "(test)"] == 1 and c.loc["total", "total"] == 6  # as elsewhere


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


def test_health_counts_and_worst(tables):
    counts = stats.health_counts(tables.health)
    assert "dark" in counts.index and counts.loc["near_duplicates", "total"] >= 0
    flags = tables.health.filter(like="is_").astype(bool).sum().sum()
    assert counts["total"].sum() == flags
    for issue in counts.index[counts["total"] > 0]:
        w = stats.worst(tables.health, issue, 2)
        assert len(w) >= 1 and w[f"is_{issue}_issue"].all()


# ------------------------------------------------------------------ hand-made tables


def health_table(labels, flagged, scores=None):
    """A ``health`` table: every issue of ISSUES, unflagged with score 1 unless given.

    ``flagged`` and ``scores`` map an issue to one value per image.
    """
    n = len(labels)
    columns = {"split": ["train"] * n, "label": labels, "case_id": [str(i) for i in range(n)]}
    for issue in ISSUES:
        columns[f"{issue}_score"] = (scores or {}).get(issue, [1.0] * n)
        columns[f"is_{issue}_issue"] = flagged.get(issue, [False] * n)
    return pd.DataFrame(columns)


def test_mask_shape_counts_by_dtype_and_ndim():
    masks = pd.DataFrame({"dtype": ["uint8", "uint8", "bool", None],
                          "shape": ["1x4x5", "2x4x5", "4x5", None]})
    counts = stats.mask_shape_counts(masks)
    assert counts.index.names == ["dtype", "ndim"] and list(counts.columns) == ["masks"]
    assert counts["masks"].to_dict() == {("bool", 2): 1, ("uint8", 3): 2}  # unread left out


def test_mask_checks_counts_three_dimensional_uint8_only():
    images = pd.DataFrame({"split": ["train"] * 2, "case_id": ["1", "2"], "label": ["forged"] * 2,
                           "has_mask": [True, True], "width": [5, 5], "height": [4, 4]})
    masks = pd.DataFrame({"split": ["train"] * 2, "case_id": ["1", "2"], "dtype": ["uint8"] * 2,
                          "shape": ["1x4x5", "4x5"], "notes": ["", ""], "status": ["ok"] * 2,
                          "n_empty": [0, 0]})
    checks = stats.mask_checks(images, masks).set_index("check")["count"]
    assert checks["(N, H, W) uint8 as the competition stores them"] == 1
    assert checks["stored (H, W) equals the image's"] == 2


def test_confirmed_copies_keeps_copy_verdicts():
    cm = pd.DataFrame({"instance": [1, 2, 3], "verdict": ["copy", "undecidable", "copy"]})
    assert stats.confirmed_copies(cm)["instance"].tolist() == [1, 3]


def test_distance_quantiles_in_pixels_and_share():
    dist = pd.DataFrame({"distance_px": [10.0, 20.0, 30.0, np.nan],
                         "distance_frac": [0.1, 0.2, 0.3, np.nan]})
    q = stats.distance_quantiles(dist)
    assert list(q.columns) == ["distance (px)", "share of the diagonal"]
    assert q.loc["count"].tolist() == [3.0, 3.0]
    assert q.loc["p50", "distance (px)"] == 20.0 and q.loc["p50", "share of the diagonal"] == 0.2


def test_cross_case_images_lists_groups_joining_case_ids():
    groups = pd.DataFrame({"group": [0, 0, 1, 1, 2, 2, 2],
                           "split": ["train"] * 7,
                           "case_id": ["5", "5", "9", "3", "7", "8", "7"],
                           "label": ["forged", "authentic", "forged", "forged",
                                     "authentic", "forged", "forged"]})
    rows = stats.cross_case_images(groups)
    assert list(zip(rows["group"], rows["case_id"], rows["label"])) == [
        (1, "3", "forged"), (1, "9", "forged"),
        (2, "7", "authentic"), (2, "7", "forged"), (2, "8", "forged")]
    assert len(stats.cross_case_images(groups, n=2)) == 2


def test_groups_split_across_folds():
    folds = pd.DataFrame({"group": [0, 0, 1, 1, 2], "fold": [0, 0, 1, 2, 3]})
    assert stats.groups_split_across_folds(folds) == 1
    assert stats.groups_split_across_folds(folds.iloc[:2]) == 0


def test_health_counts_by_label_in_issue_order():
    h = health_table(["authentic", "forged", ""],
                     {"dark": [True, True, False], "odd_size": [False, False, True]})
    counts = stats.health_counts(h)
    assert list(counts.index) == list(ISSUES) and counts.index.name == "issue"
    assert counts.loc["dark"].to_dict() == {"(test)": 0, "authentic": 1, "forged": 1, "total": 2}
    assert counts.loc["odd_size", "(test)"] == 1 and counts["total"].sum() == 3


def test_health_tables_read_only_the_flags_of_known_issues():
    h = health_table(["forged"], {"blurry": [True]}).assign(is_extra_issue=[True], is_ok=[True])
    assert list(stats.health_counts(h).index) == list(ISSUES)
    assert list(stats.flag_totals(h).index) == list(ISSUES)
    assert stats.flagged_issues(h)["issue"].tolist() == ["blurry"]


def test_flag_totals_counts_missing_flags_as_unflagged():
    h = health_table(["forged", "authentic", "forged"],
                     {"light": [True, None, True], "grayscale": [None, None, True]})
    totals = stats.flag_totals(h)
    assert totals.to_dict() == {**dict.fromkeys(ISSUES, 0), "light": 2, "grayscale": 1}
    assert stats.issues_found(h) == ["light", "grayscale"]  # ISSUES order


def test_flagged_issues_one_row_per_flag_raised():
    h = health_table(["authentic", "forged", ""],
                     {"blurry": [True, False, True], "dark": [False, True, None]})
    rows = stats.flagged_issues(h)
    assert list(rows.columns) == ["label", "issue"]
    assert list(zip(rows["label"], rows["issue"])) == [
        ("forged", "dark"), ("authentic", "blurry"), ("", "blurry")]


def test_issues_found_empty_when_nothing_is_flagged():
    assert stats.issues_found(health_table(["forged"], {})) == []


def test_worst_lowest_scores_of_flagged_images():
    h = health_table(["forged"] * 4, {"dark": [True, True, False, True]},
                     scores={"dark": [0.2, 0.1, 0.0, 0.3]})
    assert stats.worst(h, "dark", 2)["case_id"].tolist() == ["1", "0"]


def test_readable_authentic():
    images = pd.DataFrame({"label": ["authentic", "authentic", "forged", ""],
                           "status": ["ok", "unreadable", "ok", "ok"]})
    assert stats.readable_authentic(images).index.tolist() == [0]


# ------------------------------------------------------------------ blind screen


def _images(rows):
    return frame("images", [{"path": f"{r['split']}/{r['case_id']}.png", "status": "ok",
                             "has_mask": False, "twin": False, **r} for r in rows])


def test_baseline_scores_put_the_blind_screen_beside_the_others():
    images = _images([
        {"split": "train", "label": "authentic", "case_id": "1", "screen_of1": 1.0},
        {"split": "train", "label": "authentic", "case_id": "2", "screen_of1": 0.0},
        {"split": "train", "label": "forged", "case_id": "1", "screen_of1": 0.5},
        {"split": "train", "label": "forged", "case_id": "3"},  # no usable mask: counts 0
    ])
    masks = frame("masks", [{"split": "train", "case_id": "1", "of1_union": 1.0,
                             "rle_roundtrip": True, "union_px": 5}])
    got = stats.baseline_scores(images, masks).set_index("baseline")["oF1"]
    assert got["blind screen (python -m eda_lib baseline)"] == 1.5 / 4
    assert got["all authentic"] == 0.5
    off = stats.baseline_scores(images.assign(screen_of1=np.nan), masks).set_index("baseline")
    assert np.isnan(off.loc["blind screen (python -m eda_lib baseline)", "oF1"])


def test_screen_by_fold_averages_each_fold_and_all():
    images = _images([
        {"split": "train", "label": "authentic", "case_id": "1", "screen_of1": 1.0},
        {"split": "train", "label": "forged", "case_id": "1", "screen_of1": 0.25},
        {"split": "train", "label": "forged", "case_id": "2"},
        {"split": "test", "label": "", "case_id": "9"},
    ])
    folds = frame("folds", [
        {"split": "train", "label": "authentic", "case_id": "1", "fold": 1},
        {"split": "train", "label": "forged", "case_id": "1", "fold": 1},
        {"split": "train", "label": "forged", "case_id": "2", "fold": 0},
    ])
    got = stats.screen_by_fold(images, folds)
    assert got["fold"].tolist() == ["0", "1", "all"]
    assert got["images"].tolist() == [1, 2, 3]
    assert got["oF1 blind screen"].tolist() == [0.0, 0.625, 1.25 / 3]
    assert got["oF1 all authentic"].tolist() == [0.0, 0.5, 1 / 3]


def test_screen_by_fold_without_screening_scores_nothing():
    """With ``screening: false`` no image has a screen score: the screen's column is
    empty, not a row of zeros that reads as a baseline scoring 0 (the folds and the
    all-authentic floor are still shown)."""
    images = _images([
        {"split": "train", "label": "authentic", "case_id": "1"},
        {"split": "train", "label": "forged", "case_id": "1"},
    ])
    folds = frame("folds", [
        {"split": "train", "label": "authentic", "case_id": "1", "fold": 0},
        {"split": "train", "label": "forged", "case_id": "1", "fold": 0},
    ])
    got = stats.screen_by_fold(images, folds)
    assert got["fold"].tolist() == ["0", "all"]
    assert got["oF1 blind screen"].isna().all()
    assert got["oF1 all authentic"].tolist() == [0.5, 0.5]


def _copy_move(rows):
    base = {"split": "train", "method": "mask_pair", "target_x1": 0, "target_y1": 0,
            "source_x1": 50, "source_y1": 50, "source_x2": 59, "source_y2": 59}
    return frame("copy_move", [{**base, "instance": i + 1, **r} for i, r in enumerate(rows)])


def test_screen_recovery_by_transform_scale_area_and_size():
    images = _images([
        {"split": "train", "label": "forged", "case_id": "1", "width": 100, "height": 100},
        {"split": "train", "label": "forged", "case_id": "2", "width": 2000, "height": 1000},
    ])
    cm = _copy_move([
        {"case_id": "1", "transform": "identity", "scale": 1.0, "target_x2": 9,
         "target_y2": 9, "screen_found": True},                   # 1 % of the image
        {"case_id": "1", "transform": "flip_h", "scale": 0.8, "target_x2": 29,
         "target_y2": 29, "screen_found": False},                 # 9 %
        {"case_id": "2", "transform": "identity", "scale": 1.2, "target_x2": 99,
         "target_y2": 99, "screen_found": True},                  # 0.5 %
        {"case_id": "2", "transform": "rot90", "scale": 1.0, "target_x2": 9,
         "target_y2": 9, "screen_found": None},                   # not compared: left out
    ])
    by = stats.screen_recovery(cm, images, "transform").set_index("transform")
    assert by["pairs"].to_dict() == {"flip_h": 1, "identity": 2}
    assert by.loc["identity", "found share"] == 1.0 and by.loc["flip_h", "found"] == 0
    scale = stats.screen_recovery(cm, images, "scale").set_index("scale")["found"].to_dict()
    assert scale == {"enlarged (> 1.03)": 1, "same size": 1, "shrunk (< 0.97)": 0}
    area = stats.screen_recovery(cm, images, "area")
    assert area["pairs"].tolist() == [1, 1, 1] and area["found"].tolist() == [1, 1, 0]
    size = stats.screen_recovery(cm, images, "image size")
    assert size["pairs"].tolist() == [2, 1]


def test_screen_overview_controls_and_flagged():
    images = _images([
        {"split": "train", "label": "authentic", "case_id": "1", "screen_status": "screened",
         "screen_copies": 1},
        {"split": "train", "label": "authentic", "case_id": "2", "screen_status": "screened",
         "screen_copies": 0},
        {"split": "test", "label": "", "case_id": "3", "screen_status": "too_small",
         "screen_copies": 0},
    ])
    pair = {"split": "train", "label": "authentic", "case_id": "1"}
    screening = frame("screening", [
        {**pair, "pair": 1, "verdict": "copy", "ncc": 0.9},
        {**pair, "pair": 2, "verdict": "rejected", "reason": "text", "ncc": 0.99},
        {**pair, "case_id": "2", "pair": 1, "verdict": "rejected", "reason": "text"},
        {**pair, "case_id": "2", "pair": 2, "verdict": "unsure", "reason": "weak_match"},
    ])
    over = stats.screen_overview(images, screening).set_index(["split", "label"])
    row = over.loc[("train", "authentic")]
    assert (row["screened"], row["flagged"], row["copy"], row["rejected"]) == (2, 1, 1, 2)
    assert row["flagged share"] == 0.5 and ("test", "(unlabelled)") not in over.index
    controls = stats.screen_controls(screening)
    assert controls.iloc[0].tolist() == ["rejected", "text", 2, 2]
    # a forged image and its authentic twin share their case_id: two images
    twins = pd.concat([screening, frame("screening", [
        {**pair, "label": "forged", "pair": 1, "verdict": "rejected", "reason": "text"}])])
    assert stats.screen_controls(twins).iloc[0].tolist() == ["rejected", "text", 3, 3]
    status = stats.screen_status(images)
    assert status.loc["test", "too_small"] == 1 and status.loc["train", "screened"] == 2
    flagged = stats.screen_flagged(screening, "authentic")
    assert flagged["pair"].tolist() == [1]
    assert stats.screen_flagged(screening, None, ("test",)).empty


def test_twin_mode_pairs_with_an_unreadable_twin():
    """A twin whose image could not be decoded has no size: not the same size, no error."""
    images = frame("images", [
        {"split": "train", "label": "authentic", "case_id": "1", "width": 4, "height": 3,
         "mode": "RGB", "twin": True, "has_mask": False},
        {"split": "train", "label": "forged", "case_id": "1", "width": None, "height": None,
         "mode": None, "twin": True, "has_mask": True}])
    pairs = stats.twin_mode_pairs(images)
    assert pairs.to_dict("records") == [{"authentic mode": "RGB", "forged mode": "?",
                                         "same size": False, "pairs": 1}]
