"""Tests of eda_lib.measure.case: one case's files measured together."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from eda_lib.config import make_config
from eda_lib.dataset import metric
from eda_lib.dataset.index import scan
from eda_lib.geometry import bbox
from eda_lib.measure import case as case_mod
from eda_lib.measure import health, screening
from eda_lib.measure.case import Rows, group_cases, measure_case
from eda_lib.tables import frame


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


# ------------------------------------------------------------------ the blind screen
# its rows, the image-level columns, the comparison with the labels, and its failures


SOURCE = np.s_[20:80, 30:100]  # rows, columns of the copied region
TARGET = np.s_[120:180, 150:220]


def write_png(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)


def write_mask(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, array, allow_pickle=False)


def _micrograph(seed: int, h: int = 220, w: int = 280) -> np.ndarray:
    """Smooth random texture with a little noise: keypoints everywhere, no repetition."""
    rng = np.random.default_rng(seed)
    image = cv2.GaussianBlur(rng.normal(128, 45, (h, w)), (0, 0), 1.6)
    image = image + rng.normal(0, 3, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


@pytest.fixture
def copied(tmp_path: Path) -> Path:
    """Case 7: a forged image whose region SOURCE is pasted, mirrored, at TARGET, its
    mask marking both (one instance), and its authentic twin; test image 8 holds a
    plain copy and test image 9 is too small to screen."""
    root = tmp_path / "data"
    authentic = _micrograph(0)
    forged = authentic.copy()
    forged[TARGET] = np.fliplr(forged[SOURCE])
    mask = np.zeros((1, *forged.shape), np.uint8)
    mask[0][SOURCE] = 1
    mask[0][TARGET] = 1
    write_png(root / "train_images/authentic/7.png", np.dstack([authentic] * 3))
    write_png(root / "train_images/forged/7.png", np.dstack([forged] * 3))
    write_mask(root / "train_masks/7.npy", mask)
    test = _micrograph(1)
    test[TARGET] = test[SOURCE]
    write_png(root / "test_images/8.png", test)
    write_png(root / "test_images/9.png", _micrograph(2, 12, 40))
    return root


def _by_key(rows: list[dict]) -> dict[tuple[str, str], dict]:
    return {(r["split"], r["label"] or "", r["case_id"]): r for r in rows}


def test_the_screen_finds_the_copy_and_is_scored_against_the_labels(copied):
    tables = measure_all(copied)
    images = _by_key(tables["images"])
    forged = images[("train", "forged", "7")]
    assert forged["screen_status"] == "screened" and forged["screen_copies"] >= 1
    assert forged["screen_of1"] > 0.7
    authentic = images[("train", "authentic", "7")]
    assert authentic["screen_status"] == "screened"
    assert authentic["screen_copies"] == 0 and authentic["screen_of1"] == 1.0
    assert images[("test", "", "8")]["screen_copies"] >= 1
    assert "screen_of1" not in images[("test", "", "8")]  # no label: nothing to score

    pairs = [r for r in tables["screening"] if r["case_id"] == "7" and r["verdict"] == "copy"]
    assert pairs and all(r["label"] == "forged" and r["roles"] == "undecided" for r in pairs)
    best = pairs[0]
    assert best["pair"] == 1 and best["transform"] == "flip_h" and best["reason"] is None
    # the annotation is source and target as one instance, in the competition's encoding
    drawn = metric.parse_annotation(best["annotation"], forged_shape := (220, 280))
    assert len(drawn) == 1 and drawn[0].shape == forged_shape
    truth = np.zeros(forged_shape, bool)
    truth[SOURCE] = truth[TARGET] = True
    assert metric.of1([truth], drawn) > 0.7
    boxes = {bbox(drawn[0] & (np.arange(280) < 125)[None, :]),
             bbox(drawn[0] & (np.arange(280) >= 125)[None, :])}
    assert len(boxes) == 2

    (cm,) = [r for r in tables["copy_move"] if r["case_id"] == "7"]
    assert cm["screen_found"] is True
    # every table accepts the rows (no column outside the schema)
    for name, rows in tables.items():
        frame(name, rows)


def test_rejected_and_unsure_pairs_have_no_annotation(copied):
    for r in measure_all(copied)["screening"]:
        assert (r.get("annotation") is not None) == (r["verdict"] == "copy")
        assert (r["reason"] is None) == (r["verdict"] == "copy")


def test_an_image_too_small_to_screen_has_a_reason_and_no_rows(copied):
    tables = measure_all(copied)
    small = _by_key(tables["images"])[("test", "", "9")]
    assert small["status"] == "ok" and small["screen_status"] == "too_small"
    assert "12" in small["screen_reason"] and small["screen_copies"] == 0
    assert not [r for r in tables["screening"] if r["case_id"] == "9"]
    assert not [p for p in tables.get("problems", []) if p["case_id"] == "9"]


def test_screening_off_leaves_no_rows_and_says_so(copied):
    tables = measure_all(copied, screening=False)
    assert "screening" not in tables
    for row in tables["images"]:
        assert row["screen_status"] == "off"
        assert row.get("screen_of1") is None and row.get("screen_copies") is None
    assert all(r["screen_found"] is None for r in tables["copy_move"])


def test_a_failing_screen_is_a_problem_and_the_rest_goes_on(copied, monkeypatch):
    def broken(rgb, max_side=1024, **tuning):
        raise MemoryError("no room for the descriptors")

    monkeypatch.setattr(screening, "screen_image", broken)
    tables = measure_all(copied)
    failed = [p for p in tables["problems"] if p["kind"] == "screening_failed"]
    assert sorted(p["case_id"] for p in failed) == ["7", "7", "8", "9"]
    assert all("MemoryError: no room" in p["detail"] for p in failed)
    assert {r["screen_status"] for r in tables["images"]} == {"failed"}
    # the rest of each case was measured
    assert len(tables["image_scores"]) == 4 and len(tables["copy_move"]) == 1
    assert tables["copy_move"][0]["screen_found"] is None


def test_the_screen_sees_the_image_alone(copied, monkeypatch):
    """Blind: the screen is called with the decoded pixels and its settings only, never
    with a mask or a twin."""
    calls = []
    real = screening.screen_image

    def spy(*args, **kwargs):
        calls.append((args, kwargs))
        return real(*args, **kwargs)

    monkeypatch.setattr(screening, "screen_image", spy)
    measure_all(copied, screening_max_side=640)
    assert len(calls) == 4
    for args, kwargs in calls:
        assert len(args) == 1 and isinstance(args[0], np.ndarray) and args[0].ndim == 3
        assert kwargs == {"max_side": 640}


# ------------------------------------------------------------------ display views


def test_view_shape_bounds_the_longest_side_and_keeps_small_images():
    assert case_mod.view_shape(1000, 1600) == (480, case_mod.VIEW_SIDE)
    assert case_mod.view_shape(3888, 2592, 768) == (768, 512)
    assert case_mod.view_shape(300, 20) == (300, 20)


def test_view_masks_keep_a_one_pixel_instance_on_the_smaller_grid():
    stack = np.zeros((2, 100, 160), bool)
    stack[0, 99, 159] = True
    stack[1, 10:60, 20:100] = True
    small = case_mod.view_masks(stack, (10, 16))
    assert small.shape == (2, 10, 16) and small.dtype == bool
    assert small[0].sum() == 1 and small[0, 9, 15]
    assert small[1, 1:6, 2:10].all() and small[1].sum() == 5 * 8
    assert np.array_equal(case_mod.view_masks(stack, (100, 160)), stack)



def _block_any(plane: np.ndarray, factor: int) -> np.ndarray:
    """Reference "any" pooling, block by block, of one mask."""
    h, w = plane.shape
    rows, cols = -(-h // factor), -(-w // factor)
    return np.array([[plane[i * factor:(i + 1) * factor, j * factor:(j + 1) * factor].any()
                      for j in range(cols)] for i in range(rows)])


@pytest.mark.parametrize("seed", range(6))
def test_view_masks_pool_each_block_as_a_plain_loop_does(seed):
    """Blocks cut by the image's right and bottom edges included (sizes not multiples)."""
    rng = np.random.default_rng(seed)
    h, w = (int(v) for v in rng.integers(40, 300, 2))
    density = (0.0005, 0.01, 0.3)[seed % 3]
    stack = rng.random((2, h, w)) < density
    side = int(rng.integers(8, 40))
    shape = case_mod.view_shape(h, w, side)
    factor = max(-(-h // shape[0]), -(-w // shape[1]))
    pooled = [_block_any(m, factor) for m in stack]
    want = np.stack([cv2.resize(p.astype(np.uint8), (shape[1], shape[0]),
                                interpolation=cv2.INTER_NEAREST_EXACT) > 0 for p in pooled])
    assert np.array_equal(case_mod.view_masks(stack, shape), want)

def test_a_large_case_keeps_views_at_display_size(tmp_path):
    """Views of every decoded image at most VIEW_SIDE on a side, masks on the forged view's
    grid with a small instance still on, the file's size and the marked share beside."""
    root = tmp_path / "data"
    h, w = 900, 1200
    forged = np.dstack([_micrograph(3, h, w)] * 3)
    mask = np.zeros((2, h, w), np.uint8)
    mask[0, 100:400, 200:600] = 1
    mask[1, 850, 1150] = 1  # one pixel
    write_png(root / "train_images/forged/5.png", forged)
    write_png(root / "train_images/authentic/5.png", forged // 2)
    write_mask(root / "train_masks/5.npy", mask)
    write_png(root / "test_images/6.png", _micrograph(4, 100, 60))
    cfg = make_config({"data_dir": str(root), "out_dir": str(tmp_path / "out"),
                       "screening": False, "copy_move": False})
    index = scan(root)
    views = {c.case_id: measure_case(index.root, c, cfg).views for c in group_cases(index)}
    five = views["5"]
    assert five["rgb_forged"].shape == five["rgb_authentic"].shape == (576, 768, 3)
    assert five["rgb_forged"].dtype == np.uint8
    assert list(five["size_forged"]) == [h, w]
    assert five["masks"].shape == (2, 576, 768) and five["masks"][1].sum() >= 1
    assert float(five["union_frac"]) == pytest.approx(mask.any(axis=0).mean())
    expected = cv2.resize(forged, (768, 576), interpolation=cv2.INTER_AREA)
    assert np.array_equal(five["rgb_forged"], expected)
    six = views["6"]  # small, unlabelled: kept whole
    assert set(six) == {"rgb_none", "size_none"}
    assert np.array_equal(six["rgb_none"], np.dstack([_micrograph(4, 100, 60)] * 3))
    rows = measure_case(index.root, group_cases(index)[0], cfg, views=False)
    assert rows.views == {} and rows.tables["images"]


def _write_16_bit_case(root: Path, case_id: str, authentic: np.ndarray,
                       forged: np.ndarray) -> None:
    for label, values in (("authentic", authentic), ("forged", forged)):
        path = root / f"train_images/{label}/{case_id}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(values).save(path)
    mask = np.zeros((1, *forged.shape), np.uint8)
    mask[0][SOURCE] = mask[0][TARGET] = 1
    write_mask(root / f"train_masks/{case_id}.npy", mask)


def test_12_bit_scans_are_screened_and_compared_with_their_twin_alike(tmp_path):
    """Forged 12-bit scans and their twins, stored in 16-bit files: the copy is found
    (the top 8 of 16 bits would be nearly black), and where one image of a case uses a
    13th bit both are reduced alike, so they still differ only where the copy is."""
    root = tmp_path / "data"
    authentic = _micrograph(0).astype(np.uint16) * 16  # 12-bit values
    forged = authentic.copy()
    forged[TARGET] = np.fliplr(forged[SOURCE])
    _write_16_bit_case(root, "7", authentic, forged)
    wider = authentic.copy()
    wider[0, 0] = 4096  # one value past 12 bits: this twin uses 13
    _write_16_bit_case(root, "8", wider, forged)
    tables = measure_all(root)
    images = _by_key(tables["images"])
    assert images[("train", "forged", "7")]["screen_copies"] >= 1
    assert images[("train", "authentic", "7")]["screen_copies"] == 0
    (cm,) = [r for r in tables["copy_move"] if r["case_id"] == "7"]
    assert cm["screen_found"] is True
    scores = {(r["case_id"], r["label"]): r for r in tables["image_scores"]}
    assert scores[("7", "forged")]["dark_score"] > 0.2  # not crushed to near black
    # reduced alike (13 bits for both), the two look alike; the top 8 of 12 bits for
    # one and of 13 for the other would differ twofold everywhere
    forged_8, twin_8 = scores[("8", "forged")], scores[("8", "authentic")]
    assert forged_8["brightness_perc_99"] == pytest.approx(twin_8["brightness_perc_99"],
                                                           abs=0.02)
    (check,) = [r for r in tables["label_check"] if r["case_id"] == "8"]
    assert check["changed_outside_mask_px"] <= 1  # the one 13-bit pixel at most
