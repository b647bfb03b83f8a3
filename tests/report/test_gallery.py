"""Tests of eda_lib.report.gallery: choosing examples and loading their pixels.

Images and masks are written by hand (``handmade.py``), with hand-made ``images`` and
``masks`` tables pointing at them: no data pass stored their views, so these load through
the fallback (decoding the files, with a warning). The tests at the end run the pass and
load its stored views.
"""

import os
import shutil
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from handmade import ramp, write_png

from eda_lib import datapass, trace
from eda_lib.config import make_config
from eda_lib.dataset import demo, images
from eda_lib.measure import cache
from eda_lib.report import gallery

# hand-made tables have no stored views: their loads decode the files and warn
pytestmark = pytest.mark.filterwarnings("ignore:no stored view:UserWarning")


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
    shown = gallery.load_rgb(cfg, t, "train", "authentic", "1")
    assert shown.rgb.shape == (8, 10, 3) and shown.rgb.dtype == np.uint8
    assert np.array_equal(shown.rgb, arrays["a1"][..., :3]) and shown.size == (8, 10)


def test_load_captioned(hand_data):
    cfg, t, arrays = hand_data
    chosen = t.images[t.images["label"] == "authentic"].iloc[[2, 0]]
    items = gallery.load_captioned(cfg, t, chosen)
    assert [caption for caption, _ in items] == ["case 4", "case 1"]
    assert items[0][1].rgb.shape == (5, 7, 3)
    assert np.array_equal(items[1][1].rgb, arrays["a1"][..., :3])
    assert gallery.load_captioned(cfg, t, chosen.iloc[:0]) == []


def test_load_scored_captions_label_case_and_score(hand_data):
    cfg, t, arrays = hand_data
    rows = pd.DataFrame({"split": ["train", "train"], "label": ["forged", "authentic"],
                         "case_id": ["2", "4"], "dark_score": [0.12345, 0.5]})
    items = gallery.load_scored(cfg, t, rows, "dark")
    assert [c for c, _, _ in items] == ["forged 2: 0.123", "authentic 4: 0.500"]
    assert [shown.rgb.shape for _, shown, _ in items] == [(6, 6, 3), (5, 7, 3)]
    assert all(masks is None for _, _, masks in items)


def test_load_scored_calls_test_images_test(tmp_path):
    root = tmp_path / "data"
    rel = write_png(root, "test_images/9.png", ramp(3, 3))
    t = SimpleNamespace(images=pd.DataFrame({"split": ["test"], "label": [""], "case_id": ["9"],
                                             "path": [rel]}),
                        masks=pd.DataFrame({"split": [], "case_id": [], "path": []}))
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
    pair = gallery.copy_move_view(cfg, t, row)
    view = pair.panel
    assert np.array_equal(view["rgb"], arrays["f1"])
    assert view["target_box"] == (1, 1, 2, 2) and view["source_box"] == (5, 4, 6, 5)
    assert (pair.size, pair.target_box, pair.source_box) == ((8, 10), (1, 1, 2, 2), (5, 4, 6, 5))
    assert np.array_equal(view["aligned_source"], arrays["f1"][4:6, 5:7])
    assert np.array_equal(view["target_crop"], arrays["f1"][1:3, 1:3])
    assert view["title"] == "case 1, instance 1: search, identity, copy, margin 0.25"


def test_copy_move_view_without_a_source(hand_data):
    cfg, t, _ = hand_data
    pair = gallery.copy_move_view(cfg, t, cm_row(verdict="not found"))
    view = pair.panel
    assert view["source_box"] is None and view["aligned_source"] is None and pair.source_box is None
    assert view["target_crop"] is None
    assert view["title"] == "case 1, instance 1: search, not found"


def test_scale_box_covers_the_view_pixels_of_the_box():
    assert gallery.scale_box((0, 0, 9, 9), (100, 200), (50, 100)) == (0, 0, 4, 4)
    assert gallery.scale_box((11, 3, 11, 3), (100, 200), (50, 100)) == (5, 1, 5, 1)  # >= 1 px
    assert gallery.scale_box((190, 90, 199, 99), (100, 200), (50, 100)) == (95, 45, 99, 49)


def test_copy_move_view_scales_the_boxes_onto_a_smaller_view(hand_data, monkeypatch):
    """A view half the file's size: boxes and crops on the view's grid, the file's boxes kept."""
    cfg, t, _ = hand_data
    view = ramp(40, 50)
    monkeypatch.setattr(gallery, "load_rgb", lambda *a: gallery.Shown(view, (80, 100)))
    row = cm_row(transform="identity", margin=0.25, source_x1=60, source_y1=40, source_x2=79,
                 source_y2=59, target_x1=10, target_y1=10, target_x2=29, target_y2=29)
    pair = gallery.copy_move_view(cfg, t, row)
    assert pair.panel["target_box"] == (5, 5, 14, 14) and pair.panel["source_box"] == (30, 20, 39, 29)
    assert (pair.target_box, pair.source_box, pair.size) == ((10, 10, 29, 29), (60, 40, 79, 59),
                                                              (80, 100))
    assert np.array_equal(pair.panel["target_crop"], view[5:15, 5:15])
    assert np.array_equal(pair.panel["aligned_source"], view[20:30, 30:40])


# ------------------------------------------------------------------ stored views


@pytest.fixture
def passed(tmp_path):
    """``(cfg, t)`` after a data pass over a small generated dataset."""
    data = tmp_path / "data"
    demo.generate(data, forged=3, seed=8, size_scale=0.15, supplemental=0)
    cfg = make_config({"data_dir": str(data), "out_dir": str(tmp_path / "out"), "workers": 1,
                       "progress": False})
    datapass.ensure_tables(cfg, progress=False)
    return cfg, datapass.load_tables(cfg, build=False)


def _forged_with_twin(t) -> tuple[str, str]:
    img = t.images
    forged = set(zip(img.loc[img["label"] == "forged", "split"],
                     img.loc[img["label"] == "forged", "case_id"]))
    twins = img[(img["label"] == "authentic") & img["twin"]]
    return min((s, c) for s, c in zip(twins["split"], twins["case_id"]) if (s, c) in forged)


@pytest.mark.filterwarnings("error:no stored view")
def test_loads_come_from_the_stored_views_and_read_no_file(passed, tmp_path, monkeypatch):
    cfg, t = passed
    log = tmp_path / "trace.log"
    monkeypatch.setenv(trace.ENV, str(log))
    split, case_id = _forged_with_twin(t)
    ex = gallery.load_example(cfg, t, split, case_id)
    auth = gallery.load_rgb(cfg, t, split, "authentic", case_id)
    scored = gallery.load_scored(cfg, t, t.health.head(3), "dark")
    assert not log.exists()  # nothing of the data folder was read
    monkeypatch.delenv(trace.ENV)
    # the demo's images are smaller than a view: the views are the files' pixels
    path = gallery.image_path(t, split, "forged", case_id)
    assert np.array_equal(ex.rgb, images.decode(cfg.data_dir / path).rgb)
    assert ex.size == ex.rgb.shape[:2] and ex.masks.shape[1:] == ex.rgb.shape[:2]
    row = t.masks[(t.masks["split"] == split) & (t.masks["case_id"] == case_id)].iloc[0]
    assert ex.masks.shape[0] == row["n_instances"] and ex.union_frac == row["union_frac"]
    assert np.array_equal(ex.twin_rgb, auth.rgb)
    assert np.array_equal(auth.rgb, images.decode(
        cfg.data_dir / gallery.image_path(t, split, "authentic", case_id)).rgb)
    assert len(scored) == 3 and all(shown.rgb.ndim == 3 for _, shown, _ in scored)


def test_without_stored_views_the_files_are_decoded_with_a_warning(passed, tmp_path, monkeypatch):
    cfg, t = passed
    split, case_id = _forged_with_twin(t)
    expected = gallery.load_example(cfg, t, split, case_id)
    shutil.rmtree(cfg.cache_path / cache.VIEWS_DIR)
    log = tmp_path / "trace.log"
    monkeypatch.setenv(trace.ENV, str(log))
    with pytest.warns(UserWarning, match="no stored view of .*decoding it from the data folder"):
        ex = gallery.load_example(cfg, t, split, case_id)
    kinds = [line.split("\t")[0] for line in log.read_text(encoding="utf-8").splitlines()]
    assert kinds.count("gallery_fallback") == 3 and kinds.count("image") == 2  # forged, mask, twin
    assert np.array_equal(ex.rgb, expected.rgb) and np.array_equal(ex.masks, expected.masks)
    assert np.array_equal(ex.twin_rgb, expected.twin_rgb) and ex.size is None


def test_a_changed_file_is_not_drawn_from_its_stale_view(passed):
    cfg, t = passed
    split, case_id = _forged_with_twin(t)
    key = ["rgb_authentic"]
    assert gallery.stored_views(cfg, t, split, case_id, key) is not None
    path = cfg.data_dir / gallery.image_path(t, split, "authentic", case_id)
    st = path.stat()  # same content, a new modification time
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert gallery.stored_views(cfg, t, split, case_id, key) is None
