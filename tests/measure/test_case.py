"""Tests of eda_lib.measure.case: one case's files measured together."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from eda_lib.config import make_config
from eda_lib.dataset.index import scan
from eda_lib.measure import health
from eda_lib.measure.case import Rows, group_cases, measure_case


def measure_all(root: Path, **kw) -> dict[str, list[dict]]:
    """Every case of the dataset at ``root`` measured in turn: the rows per table."""
    cfg = make_config({"data_dir": str(root), "out_dir": str(root.parent / "out"),
                       "workers": 1, "progress": False, **kw})
    index = scan(root)
    rows = Rows()
    for case in group_cases(index):
        rows.extend(measure_case(index.root, case, cfg))
    return dict(rows.tables)


def test_a_twin_measured_from_its_forgery_equals_the_twin_measured_alone(tiny_dataset,
                                                                       monkeypatch):
    near = []
    changed_rows = health._changed_rows

    def spy(first, second):
        rows = changed_rows(first, second)
        near.append(rows is not None)
        return rows

    monkeypatch.setattr(health, "_changed_rows", spy)
    together = measure_all(tiny_dataset)
    assert near == [True, False]  # case 10 (RGBA twin, RGB forgery); case 25 is gray
    monkeypatch.setattr(health, "score_pair", lambda first, second: (
        health.image_scores(first), health.image_scores(second)))
    alone = measure_all(tiny_dataset)
    assert len(near) == 2  # the plain way never compares the two images
    assert together == alone  # every table, row for row and in the same order
    labels = [(r["case_id"], r["label"]) for r in together["image_scores"]]
    assert labels == [("10", "authentic"), ("10", "forged"), ("25", "authentic"),
                      ("25", "forged"), ("31", "forged"), ("45", "")]


def test_an_unreadable_image_leaves_its_twin_scored_alone(tiny_dataset):
    (tiny_dataset / "train_images/authentic/10.png").write_bytes(b"not a png")
    rows = measure_all(tiny_dataset, copy_move=False)
    images = {(r["case_id"], r["label"]): r["status"] for r in rows["images"]}
    assert images[("10", "authentic")] == "not_an_image" and images[("10", "forged")] == "ok"
    scored = [r for r in rows["image_scores"] if r["case_id"] == "10"]
    forged = np.asarray(Image.open(tiny_dataset / "train_images/forged/10.png"))
    assert [r.pop("label") for r in scored] == ["forged"]
    assert scored[0] == {"case_id": "10", "split": "train", **health.image_scores(forged)}


def test_mask_rows_keep_the_stored_shape_and_dtype(tiny_dataset):
    stored = np.empty(2, dtype=object)  # two instances, only loadable through pickle
    stored[0], stored[1] = np.zeros((30, 30), np.uint8), np.eye(30, dtype=np.uint8)
    np.save(tiny_dataset / "train_masks/25.npy", stored, allow_pickle=True)
    (tiny_dataset / "train_masks/10.npy").write_bytes(b"not a npy file")

    def masks(**kw):
        rows = pd.DataFrame(measure_all(tiny_dataset, **kw)["masks"])
        return rows.set_index("case_id")[["shape", "dtype", "status"]]

    refused = masks()
    assert refused.loc["25"].tolist() == ["2", "object", "pickled_mask"]
    assert refused.loc["10", "status"] == "unreadable_mask"
    assert pd.isna(refused.loc["10", "shape"]) and pd.isna(refused.loc["10", "dtype"])
    assert refused.loc["77"].tolist() == ["1x8x8", "uint8", "orphan"]
    unpickled = masks(allow_pickle=True)
    assert unpickled.loc["25"].tolist() == ["2", "object", "normalized"]
