"""Tests of eda_lib.report.gallery: choosing examples and loading their pixels.

Images and masks are written by hand (``handmade.py``), with hand-made ``images`` and
``masks`` tables pointing at them.
"""

from types import SimpleNamespace

import numpy as np
import pandas as pd
from handmade import ramp, write_png

from eda_lib.config import make_config
from eda_lib.report import gallery


def cm_row(**values) -> dict:
    """A ``copy_move`` row: target box (1, 1)-(2, 2) of case 1, no source unless given."""
    row = {"split": "train", "case_id": "1", "instance": 1, "method": "search", "verdict": "copy",
           "transform": np.nan, "margin": np.nan, "target_x1": 1, "target_y1": 1, "target_x2": 2,
           "target_y2": 2, "source_x1": np.nan, "source_y1": np.nan, "source_x2": np.nan,
           "source_y2": np.nan}
    return {**row, **values}


# ------------------------------------------------------------------ choosing


def test_sample_keeps_small_tables_whole():
    df = pd.DataFrame({"x": [3, 1, 2]})
    assert gallery.sample(df, 5, seed=0) is df


def test_sample_is_seeded_and_in_table_order():
    df = pd.DataFrame({"x": range(20)})
    a, b = gallery.sample(df, 5, seed=3), gallery.sample(df, 5, seed=3)
    assert len(a) == 5 and a.equals(b)
    assert list(a.index) == sorted(a.index)


def test_copy_move_showcase_groups():
    cm = pd.DataFrame({
        "target_x1": [0, 0, 0, 0, np.nan],
        "verdict": ["copy", "copy", "look-alike", "copy", "copy"],
        "margin": [0.1, 0.5, np.nan, 0.5, 0.9],
        "ncc": [0.9, 0.8, 0.5, 0.95, 0.99],
        "transform": ["identity", "rot90", np.nan, "flip_h", "identity"],
    })
    show = gallery.copy_move_showcase(cm, n=2, seed=0)
    assert list(show) == ["most certain", "least certain", "flips and rotations"]
    assert list(show["most certain"].index) == [3, 1]  # margin, then ncc; unresolved row 4 left out
    assert list(show["least certain"].index) == [2]
    assert list(show["flips and rotations"].index) == [1, 3]


# ------------------------------------------------------------------ loading


def test_image_path(hand_data):
    _, t, _ = hand_data
    assert gallery.image_path(t, "train", "authentic", "1") == "train_images/authentic/1.png"


def test_load_rgb_drops_alpha(hand_data):
    cfg, t, arrays = hand_data
    rgb = gallery.load_rgb(cfg, "train_images/authentic/1.png")
    assert rgb.shape == (8, 10, 3) and rgb.dtype == np.uint8
    assert np.array_equal(rgb, arrays["a1"][..., :3])


def test_load_captioned(hand_data):
    cfg, t, arrays = hand_data
    chosen = t.images[t.images["label"] == "authentic"].iloc[[2, 0]]
    items = gallery.load_captioned(cfg, chosen)
    assert [caption for caption, _ in items] == ["case 4", "case 1"]
    assert items[0][1].shape == (5, 7, 3) and np.array_equal(items[1][1], arrays["a1"][..., :3])
    assert gallery.load_captioned(cfg, chosen.iloc[:0]) == []


def test_load_scored_captions_label_case_and_score(hand_data):
    cfg, t, arrays = hand_data
    rows = pd.DataFrame({"split": ["train", "train"], "label": ["forged", "authentic"],
                         "case_id": ["2", "4"], "dark_score": [0.12345, 0.5]})
    items = gallery.load_scored(cfg, t, rows, "dark")
    assert [c for c, _, _ in items] == ["forged 2: 0.123", "authentic 4: 0.500"]
    assert [rgb.shape for _, rgb, _ in items] == [(6, 6, 3), (5, 7, 3)]
    assert all(masks is None for _, _, masks in items)


def test_load_scored_calls_test_images_test(tmp_path):
    root = tmp_path / "data"
    rel = write_png(root, "test_images/9.png", ramp(3, 3))
    t = SimpleNamespace(images=pd.DataFrame({"split": ["test"], "label": [""], "case_id": ["9"],
                                             "path": [rel]}))
    cfg = make_config({"data_dir": str(root), "out_dir": str(tmp_path / "out")})
    rows = pd.DataFrame({"split": ["test"], "label": [""], "case_id": ["9"], "blurry_score": [0.0]})
    assert gallery.load_scored(cfg, t, rows, "blurry")[0][0] == "test 9: 0.000"


def test_load_example_with_twin(hand_data):
    cfg, t, arrays = hand_data
    ex = gallery.load_example(cfg, t, "train", "1")
    assert (ex.case_id, ex.split, ex.caption) == ("1", "train", "case 1")
    assert np.array_equal(ex.rgb, arrays["f1"])
    assert ex.masks.dtype == bool and np.array_equal(ex.masks, arrays["m1"].astype(bool))
    assert np.array_equal(ex.twin_rgb, arrays["a1"][..., :3])  # alpha dropped


def test_load_example_without_usable_twin(hand_data):
    cfg, t, _ = hand_data
    assert gallery.load_example(cfg, t, "train", "2").twin_rgb is None  # no twin
    assert gallery.load_example(cfg, t, "train", "3").twin_rgb is None  # twin of another size
    broken = SimpleNamespace(images=t.images.assign(status=t.images["status"].mask(
        (t.images["label"] == "authentic") & (t.images["case_id"] == "1"), "unreadable")),
        masks=t.masks)
    assert gallery.load_example(cfg, broken, "train", "1").twin_rgb is None


def test_load_examples_in_row_order(hand_data):
    cfg, t, _ = hand_data
    chosen = pd.DataFrame({"split": ["train", "train"], "case_id": ["2", "1"]})
    examples = gallery.load_examples(cfg, t, chosen)
    assert [e.case_id for e in examples] == ["2", "1"]
    assert examples[0].masks.shape == (2, 6, 6)
    assert gallery.load_examples(cfg, t, chosen.iloc[:0]) == []


# ------------------------------------------------------------------ copy-move crops


def test_aligned_crops_without_source():
    rgb = ramp(6, 8)
    source, target = gallery.aligned_crops(rgb, cm_row())
    assert source is None and np.array_equal(target, rgb[1:3, 1:3])


def test_aligned_crops_applies_the_transform():
    rgb = ramp(6, 8)
    row = cm_row(transform="flip_h", source_x1=4, source_y1=2, source_x2=5, source_y2=3)
    source, target = gallery.aligned_crops(rgb, row)
    assert np.array_equal(source, rgb[2:4, 4:6][:, ::-1]) and np.array_equal(target, rgb[1:3, 1:3])
    assert source.flags["C_CONTIGUOUS"]


def test_aligned_crops_resizes_the_source_to_the_target():
    rgb = ramp(8, 8)
    row = cm_row(transform="identity", source_x1=4, source_y1=4, source_x2=7, source_y2=7)
    source, target = gallery.aligned_crops(rgb, row)
    assert source.shape == target.shape == (2, 2, 3)


def test_copy_move_view_with_a_source(hand_data):
    cfg, t, arrays = hand_data
    row = cm_row(transform="identity", margin=0.25, source_x1=5, source_y1=4, source_x2=6,
                 source_y2=5)
    view = gallery.copy_move_view(cfg, t, row)
    assert np.array_equal(view["rgb"], arrays["f1"])
    assert view["target_box"] == (1, 1, 2, 2) and view["source_box"] == (5, 4, 6, 5)
    assert np.array_equal(view["aligned_source"], arrays["f1"][4:6, 5:7])
    assert np.array_equal(view["target_crop"], arrays["f1"][1:3, 1:3])
    assert view["title"] == "case 1, instance 1: search, identity, copy, margin 0.25"


def test_copy_move_view_without_a_source(hand_data):
    cfg, t, _ = hand_data
    view = gallery.copy_move_view(cfg, t, cm_row(verdict="not found"))
    assert view["source_box"] is None and view["aligned_source"] is None
    assert view["target_crop"] is None
    assert view["title"] == "case 1, instance 1: search, not found"
