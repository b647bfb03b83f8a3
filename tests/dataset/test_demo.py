"""Tests of the demo dataset generator: layout, determinism, and truth against the files."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from eda_lib.dataset import demo
from eda_lib.errors import ConfigError, DataError
from eda_lib.geometry import TRANSFORMS

FORGED = 24


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("demo") / "data"
    truth = demo.generate(root, forged=FORGED, seed=7, size_scale=0.2, supplemental=2, test=1)
    return root, truth


def _load(root: Path, rel: str) -> np.ndarray:
    with Image.open(root / rel) as image:
        return np.asarray(image)


def _rgb(array: np.ndarray) -> np.ndarray:
    """The color channels of an (H, W) or (H, W, C) array, as int16 to subtract safely."""
    return (array if array.ndim == 2 else array[..., :3]).astype(np.int16)


def _box(mask: np.ndarray, box: list[int]) -> np.ndarray:
    x1, y1, x2, y2 = box
    return mask[y1:y2 + 1, x1:x2 + 1]


def _by_case(records: list[dict]) -> dict[tuple[str, str], list[dict]]:
    grouped: dict[tuple[str, str], list[dict]] = {}
    for record in records:
        grouped.setdefault((record["split"], record["case_id"]), []).append(record)
    return grouped


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------- determinism

def test_same_arguments_give_identical_files_and_truth(tmp_path):
    first = demo.generate(tmp_path / "a", forged=6, seed=11, size_scale=0.15)
    second = demo.generate(tmp_path / "b", forged=6, seed=11, size_scale=0.15)
    assert first == second
    assert _files(tmp_path / "a") == _files(tmp_path / "b")


def test_png_level_changes_the_files_bytes_never_their_pixels(tmp_path):
    fast = demo.generate(tmp_path / "a", forged=3, seed=4, size_scale=0.15, png_level=0)
    small = demo.generate(tmp_path / "b", forged=3, seed=4, size_scale=0.15, png_level=9)
    assert [r["path"] for r in fast["images"]] == [r["path"] for r in small["images"]]
    for a, b in zip(fast["images"], small["images"]):
        stored = tmp_path / "a" / a["path"], tmp_path / "b" / b["path"]
        assert [p.stat().st_size for p in stored] == [a["file_bytes"], b["file_bytes"]]
        assert b["file_bytes"] < a["file_bytes"]  # level 0 stores the pixels uncompressed
        with Image.open(stored[0]) as first, Image.open(stored[1]) as second:
            assert first.mode == second.mode
            assert np.array_equal(np.asarray(first), np.asarray(second))


def test_another_seed_gives_other_data(tmp_path):
    first = demo.generate(tmp_path / "a", forged=3, seed=1, size_scale=0.15, supplemental=0)
    second = demo.generate(tmp_path / "b", forged=3, seed=2, size_scale=0.15, supplemental=0)
    assert [r["case_id"] for r in first["images"]] != [r["case_id"] for r in second["images"]]


# --------------------------------------------------------------------------- layout

def test_layout_holds_exactly_the_files_in_the_truth(dataset):
    root, truth = dataset
    expected = {r["path"] for r in truth["images"]} | {r["path"] for r in truth["masks"]}
    assert set(_files(root)) == expected | {"sample_submission.csv"}
    folders = {path.rsplit("/", 1)[0] for path in expected}
    assert folders == {"train_images/authentic", "train_images/forged", "train_masks",
                       "test_images", "supplemental_images", "supplemental_masks"}
    for record in truth["images"]:
        assert record["path"].endswith(f"/{record['case_id']}.png")
    for record in truth["masks"]:
        assert record["path"].endswith(f"/{record['case_id']}.npy")


def test_counts_follow_the_arguments(dataset):
    _, truth = dataset
    counts = Counter((r["split"], r["label"]) for r in truth["images"])
    assert counts[("train", "forged")] == FORGED
    assert counts[("train", "authentic")] == round(FORGED * 2377 / 2751)
    assert counts[("supplemental", "forged")] == 2
    assert counts[("test", "")] == 1
    assert len(truth["masks"]) == FORGED + 2
    assert truth["params"] == {"forged": FORGED, "seed": 7, "size_scale": 0.2,
                               "supplemental": 2, "test": 1, "png_level": demo.PNG_LEVEL}


def test_sample_submission_lists_the_test_images_as_authentic(dataset):
    root, truth = dataset
    test_ids = [r["case_id"] for r in truth["images"] if r["split"] == "test"]
    text = (root / "sample_submission.csv").read_text(encoding="utf-8")
    assert text == "case_id,annotation\n" + "".join(f"{i},authentic\n" for i in test_ids)


def test_truth_is_json_and_sorted(dataset):
    _, truth = dataset
    assert json.loads(json.dumps(truth)) == truth
    keys = [(r["split"], r["label"], int(r["case_id"])) for r in truth["images"]]
    assert keys == sorted(keys)
    keys = [(r["split"], int(r["case_id"])) for r in truth["masks"]]
    assert keys == sorted(keys)
    keys = [(r["split"], int(r["case_id"]), r["instance"]) for r in truth["instances"]]
    assert keys == sorted(keys)


def test_case_ids_are_unique_numeric_and_authentic_ids_are_forged_ids(dataset):
    _, truth = dataset
    forged = {r["case_id"] for r in truth["images"] if r["label"] == "forged"}
    authentic = {r["case_id"] for r in truth["images"] if r["label"] == "authentic"}
    others = [r["case_id"] for r in truth["images"] if r["label"] != "authentic"]
    assert len(others) == len(set(others))
    assert all(i.isdigit() and 10 <= int(i) <= 65532 for i in others)
    assert authentic < forged
    assert np.ptp(sorted(map(int, others))) > len(others)  # not one contiguous run


# --------------------------------------------------------------------------- files vs truth

def test_images_match_their_records(dataset):
    root, truth = dataset
    for record in truth["images"]:
        with Image.open(root / record["path"]) as image:
            assert image.format == "PNG"
            assert image.mode == record["mode"]
            assert image.size == (record["width"], record["height"])
            assert min(image.size) >= demo.MIN_SIDE
        assert (root / record["path"]).stat().st_size == record["file_bytes"]
        assert record["content"] in demo.PAINTERS
    assert {r["mode"] for r in truth["images"] if r["label"] == "forged"} >= {"RGB", "RGBA"}


def test_masks_match_their_records(dataset):
    root, truth = dataset
    images = {(r["split"], r["case_id"]): r for r in truth["images"] if r["label"] == "forged"}
    instances = _by_case(truth["instances"])
    for record in truth["masks"]:
        key = (record["split"], record["case_id"])
        masks = np.load(root / record["path"], allow_pickle=False)
        assert masks.dtype == np.uint8 and masks.ndim == 3
        assert masks.shape == (record["n_instances"], record["height"], record["width"])
        assert (record["height"], record["width"]) == (images[key]["height"],
                                                       images[key]["width"])
        assert set(np.unique(masks)) == {0, 1}
        assert masks.reshape(len(masks), -1).any(axis=1).all()
        assert int(masks.any(axis=0).sum()) == record["union_px"]
        assert [r["instance"] for r in instances[key]] == list(range(1, len(masks) + 1))
        assert [r["area_px"] for r in instances[key]] == [int(m.sum()) for m in masks]
    assert max(r["n_instances"] for r in truth["masks"]) >= 2


def test_channels_mark_the_target_and_sometimes_the_source(dataset):
    root, truth = dataset
    masks = {(r["split"], r["case_id"]): np.load(root / r["path"]) for r in truth["masks"]}
    for record in truth["instances"]:
        channel = masks[(record["split"], record["case_id"])][record["instance"] - 1]
        target = _box(channel, record["target_box"])
        source = _box(channel, record["source_box"])
        for part in (target, source) if record["marks_source"] else (target,):
            assert part.any(axis=1)[[0, -1]].all() and part.any(axis=0)[[0, -1]].all()
        assert int(target.sum() + source.sum()) == record["area_px"]
        assert source.any() == record["marks_source"]
        (tx, ty), (sx, sy) = record["target_box"][:2], record["source_box"][:2]
        assert (record["dx"], record["dy"]) == (tx - sx, ty - sy)
        assert record["transform"] in TRANSFORMS
    assert {r["marks_source"] for r in truth["instances"]} == {True, False}


def test_unscaled_copies_equal_the_transformed_source(dataset):
    root, truth = dataset
    checked = Counter()
    for record in truth["instances"]:
        if record["scale"] != 1.0 or record["brightness_changed"]:
            continue
        folder = "train" if record["split"] == "train" else "supplemental"
        image = _load(root, next(r["path"] for r in truth["images"] if r["label"] == "forged"
                                 and r["split"] == record["split"]
                                 and r["case_id"] == record["case_id"]))
        channel = np.load(root / f"{folder}_masks/{record['case_id']}.npy")[
            record["instance"] - 1]
        move = TRANSFORMS[record["transform"]]
        shape = _box(channel, record["target_box"]).astype(bool)
        source = move(_box(image, record["source_box"]))
        assert source.shape == _box(image, record["target_box"]).shape
        np.testing.assert_array_equal(_box(image, record["target_box"])[shape], source[shape])
        if record["marks_source"]:
            np.testing.assert_array_equal(move(_box(channel, record["source_box"])),
                                          _box(channel, record["target_box"]))
        checked[record["transform"]] += 1
    assert checked["identity"] >= 1 and len(checked) >= 3


def test_textured_flag_follows_the_source_pixels(dataset):
    root, truth = dataset
    for record in truth["instances"]:
        if not record["marks_source"]:
            continue
        image = next(r for r in truth["images"] if r["label"] == "forged"
                     and r["split"] == record["split"] and r["case_id"] == record["case_id"])
        pixels = _load(root, image["path"])
        gray = pixels if pixels.ndim == 2 else cv2.cvtColor(pixels[..., :3], cv2.COLOR_RGB2GRAY)
        mask_path = next(r["path"] for r in truth["masks"] if r["split"] == record["split"]
                         and r["case_id"] == record["case_id"])
        channel = np.load(root / mask_path)[record["instance"] - 1]
        shape = _box(channel, record["source_box"]).astype(bool)
        std = _box(gray, record["source_box"])[shape].std()
        assert (std >= demo.TEXTURE_STD) == record["textured"]


# --------------------------------------------------------------------------- twins

def test_twins_have_the_same_size_and_differ_only_inside_the_pasted_copies(dataset):
    root, truth = dataset
    forged = {r["case_id"]: r for r in truth["images"]
              if r["split"] == "train" and r["label"] == "forged"}
    instances = _by_case(truth["instances"])
    pairs = Counter()
    for record in truth["images"]:
        if record["label"] != "authentic":
            continue
        twin = forged[record["case_id"]]
        assert (record["height"], record["width"]) == (twin["height"], twin["width"])
        pairs[(record["mode"], twin["mode"])] += 1
        changed = np.abs(_rgb(_load(root, twin["path"])) - _rgb(_load(root, record["path"])))
        if changed.ndim == 3:
            changed = changed.max(axis=2)
        channels = np.load(root / f"train_masks/{record['case_id']}.npy")
        targets = np.zeros(changed.shape, bool)
        for inst in instances[("train", record["case_id"])]:
            x1, y1, x2, y2 = inst["target_box"]
            here = channels[inst["instance"] - 1, y1:y2 + 1, x1:x2 + 1].astype(bool)
            targets[y1:y2 + 1, x1:x2 + 1] |= here
            if inst["textured"]:
                assert changed[y1:y2 + 1, x1:x2 + 1][here].any()
        assert not changed[~targets].any()
    assert all(a == f or (a, f) == ("RGBA", "RGB") for a, f in pairs)
    assert pairs[("RGBA", "RGB")] >= 1


# --------------------------------------------------------------------------- root

def test_refuses_a_folder_that_is_not_empty(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me", encoding="utf-8")
    with pytest.raises(DataError, match="empty") as caught:
        demo.generate(tmp_path, forged=1)
    assert str(tmp_path) in str(caught.value)
    assert caught.value.path == tmp_path
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_refuses_a_file_as_root(tmp_path):
    root = tmp_path / "data"
    root.write_text("", encoding="utf-8")
    with pytest.raises(DataError, match="new or empty folder"):
        demo.generate(root, forged=1)


def test_accepts_an_existing_empty_folder(tmp_path):
    truth = demo.generate(tmp_path, forged=1, size_scale=0.1, supplemental=0, test=0)
    assert [r["label"] for r in truth["images"]] in (["authentic", "forged"], ["forged"])
    text = (tmp_path / "sample_submission.csv").read_text(encoding="utf-8")
    assert text == "case_id,annotation\n"


@pytest.mark.parametrize("kwargs", [{"forged": 0}, {"forged": 2.5}, {"test": -1},
                                    {"size_scale": 0}, {"supplemental": True},
                                    {"png_level": 10}, {"png_level": -1}, {"png_level": 6.0}])
def test_refuses_bad_arguments_before_writing(tmp_path, kwargs):
    with pytest.raises(ConfigError):
        demo.generate(tmp_path / "data", **kwargs)
    assert not (tmp_path / "data").exists()


# --------------------------------------------------------------------------- transforms

def test_transforms_are_the_eight_distinct_symmetries():
    a = np.arange(12).reshape(3, 4)  # no symmetry: every transform gives another array
    results = {name: move(a) for name, move in TRANSFORMS.items()}
    assert len(results) == 8
    assert len({(b.shape, b.tobytes()) for b in results.values()}) == 8
    for b in results.values():
        assert sorted(b.ravel()) == list(range(12))
    h, w = a.shape
    expected = {
        "identity": lambda i, j: a[i, j],
        "flip_h": lambda i, j: a[i, w - 1 - j],
        "flip_v": lambda i, j: a[h - 1 - i, j],
        "rot90": lambda i, j: a[j, w - 1 - i],
        "rot180": lambda i, j: a[h - 1 - i, w - 1 - j],
        "rot270": lambda i, j: a[h - 1 - j, i],
        "transpose": lambda i, j: a[j, i],
        "anti_transpose": lambda i, j: a[h - 1 - j, w - 1 - i],
    }
    for name, cell in expected.items():
        b = results[name]
        assert b.tolist() == [[cell(i, j) for j in range(b.shape[1])] for i in range(b.shape[0])]
    color = np.arange(24).reshape(2, 4, 3)
    assert TRANSFORMS["rot90"](color).shape == (4, 2, 3)


# --------------------------------------------------------------------------- proportions

def test_plan_follows_the_real_proportions():
    cases = demo._plan_cases(np.random.default_rng(0), 2751, 48, 1)
    train = [c for c in cases if c.split == "train"]
    assert Counter(c.mode for c in train) == {"RGB": 1935, "RGBA": 647, "L": 169}
    assert Counter(c.n_instances for c in train) == {1: 1869, 2: 701, 3: 174, 4: 5, 5: 2}
    assert sum(c.twin_mode is not None for c in train) == 2377
    assert sum(c.twin_mode == "RGBA" and c.mode == "RGB" for c in train) == round(0.09 * 2377)
    assert len({c.case_id for c in cases}) == len(cases)


def test_full_scale_draws_the_real_sizes_and_extreme_aspects():
    rng = np.random.default_rng(0)
    sizes = [demo._draw_size(rng, 1.0) for _ in range(600)]
    assert {(666, 1000), (256, 256), (1912, 2568), (2592, 3888)} <= set(sizes)
    aspects = [w / h for h, w in sizes]
    assert max(aspects) > 10 and min(aspects) < 0.3
    small = [demo._draw_size(rng, 0.35) for _ in range(300)]
    assert min(min(s) for s in small) == demo.MIN_SIDE
