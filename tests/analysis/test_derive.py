"""Tests of eda_lib.analysis.derive: the dataset-level tables made after every pass."""

from __future__ import annotations

import numpy as np
import pytest

from eda_lib.analysis.derive import derive, duplicates
from eda_lib.config import make_config
from eda_lib.measure import health
from eda_lib.tables import SCHEMAS, frame


def scores_row(split, label, case_id, pixels):
    return {"split": split, "label": label, "case_id": case_id, **health.image_scores(pixels)}


@pytest.fixture
def measured():
    """Six train images: case 1 is a twin pair; case 3 (forged) is an exact copy of case 2's
    authentic image under another case_id; case 4 stands alone; one test image."""
    rng = np.random.default_rng(0)
    a, b, c, d = (rng.integers(0, 256, (24, 32, 3), dtype=np.uint8) for _ in range(4))
    forged = a.copy()
    forged[2:6, 2:6] = a[10:14, 10:14]
    rows = [("train", "authentic", "1", a), ("train", "forged", "1", forged),
            ("train", "authentic", "2", b), ("train", "forged", "3", b.copy()),
            ("train", "authentic", "4", c), ("test", "", "9", d)]
    images = frame("images", [{"split": s, "label": lab, "case_id": cid, "status": "ok",
                               "has_mask": lab == "forged", "twin": cid == "1"}
                              for s, lab, cid, _ in rows])
    scores = frame("image_scores", [scores_row(*r) for r in rows])
    masks = frame("masks", [{"split": "train", "case_id": cid, "n_instances": 1, "status": "ok"}
                            for cid in ("1", "3")])
    return {"images": images, "image_scores": scores, "masks": masks}


def test_derived_tables_follow_their_schema(measured):
    out = derive(measured, make_config({"data_dir": "d", "folds": 2}))
    assert set(out) == {"health", "groups", "folds"}
    for name, df in out.items():
        assert list(df.columns) == [c.name for c in SCHEMAS[name]]
    assert len(out["health"]) == 6 and len(out["groups"]) == len(out["folds"]) == 5


def test_exact_copies_across_case_ids_are_flagged_and_grouped(measured):
    out = derive(measured, make_config({"data_dir": "d", "folds": 2}))
    h = out["health"].set_index(["label", "case_id"])
    assert h.loc[("authentic", "2"), "is_exact_duplicates_issue"]
    assert h.loc[("forged", "3"), "exact_duplicates_score"] == 0.5
    assert not h.loc[("authentic", "4"), "is_exact_duplicates_issue"]
    g = out["groups"].set_index(["label", "case_id"])["group"]
    assert g[("authentic", "2")] == g[("forged", "3")] != g[("authentic", "4")]
    assert g[("authentic", "1")] == g[("forged", "1")]
    folds = out["folds"].set_index(["label", "case_id"])["fold"]
    assert folds[("authentic", "2")] == folds[("forged", "3")]


def test_duplicates_lists_each_set_with_its_kind(measured):
    dup = duplicates(measured["image_scores"])
    exact = dup[dup["kind"] == "exact"]
    assert sorted(exact["case_id"]) == ["2", "3"] and exact["dup_group"].nunique() == 1


def test_no_image_gives_empty_tables():
    empty = {name: frame(name, []) for name in ("images", "image_scores", "masks")}
    out = derive(empty, make_config({"data_dir": "d"}))
    assert all(len(df) == 0 for df in out.values())
    assert list(duplicates(empty["image_scores"]).columns) == [
        "split", "label", "case_id", "kind", "dup_group"]
