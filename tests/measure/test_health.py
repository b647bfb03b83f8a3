"""Tests of eda_lib.measure.health on small hand-made arrays.

Reference values marked "imagehash 4.3.2" were computed with imagehash.phash (the hash
cleanvision 0.3.7 uses) on the same arrays; the brightness, entropy and blur checks
rebuild cleanvision's definitions from numpy and Pillow primitives.
"""

from __future__ import annotations

import copy
import doctest
import hashlib

import cv2
import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageFilter, ImageStat

from eda_lib.errors import ConfigError, ImageError
from eda_lib.measure import health
from eda_lib.measure.health import (
    DEFAULTS,
    ISSUES,
    RAW_COLUMNS,
    blurriness,
    brightness_percentiles,
    duplicate_groups,
    entropy,
    flag_issues,
    image_scores,
    is_grayscale,
    merged_thresholds,
    perceptual_hash,
    pixel_hash,
    score_image,
    to_gray,
)

# --------------------------------------------------------------------------- helpers


def pattern(h: int, w: int, channels: int = 3) -> np.ndarray:
    """A deterministic textured image (no random generator involved)."""
    i, j = np.mgrid[:h, :w]
    planes = [(i * 7 + j * 13 + c * 50 + (i * j) % 11 * 9) % 256 for c in range(channels)]
    return (np.stack(planes, -1) if channels > 1 else planes[0]).astype(np.uint8)


def smooth(seed: int, shape: tuple[int, int] = (120, 160)) -> np.ndarray:
    """Large smooth colour blobs, RGB."""
    rng = np.random.default_rng(seed)
    field = cv2.GaussianBlur(rng.normal(0, 1, (*shape, 3)).astype(np.float32), (0, 0), 8)
    return np.clip(128 + 60 * field / field.std(), 0, 255).astype(np.uint8)


def checkerboard(cell: int = 8, cells: int = 16) -> np.ndarray:
    """A gray checkerboard fading to black at the image border.

    The fade matters: cleanvision's edge filter keeps the border pixels' gray levels,
    so a bright border alone would make any image look sharp.
    """
    board = np.kron(np.indices((cells, cells)).sum(0) % 2, np.ones((cell, cell)))
    i, j = np.indices(board.shape)
    fade = np.sin(np.pi * (i + 0.5) / board.shape[0]) * np.sin(np.pi * (j + 0.5) / board.shape[1])
    return (255 * fade * (0.5 + 0.5 * board)).astype(np.uint8)


def table(images: list[np.ndarray]) -> pd.DataFrame:
    return pd.DataFrame([image_scores(a) for a in images])


def flags(images: list[np.ndarray], thresholds: dict | None = None) -> pd.DataFrame:
    return flag_issues(table(images), thresholds)


def cleanvision_brightness(a: np.ndarray) -> np.ndarray:
    """Per-pixel brightness as cleanvision's calc_percentile_brightness computes it."""
    if a.ndim == 3:
        r, g, b = (a[..., c].astype(int) for c in range(3))
        return np.sqrt(0.241 * (r * r) + 0.691 * (g * g) + 0.068 * (b * b)) / 255
    return a / 255.0


# --------------------------------------------------------------------------- measurements


def test_doctests_run():
    assert doctest.testmod(health).failed == 0


def test_black_image_is_dark_and_white_image_is_light():
    out = flags([np.zeros((40, 50, 3), np.uint8), np.full((40, 50, 3), 255, np.uint8),
                 pattern(40, 50)])
    assert out["dark_score"].tolist()[:2] == [0.0, 1.0]
    assert out["light_score"].tolist()[:2] == [1.0, 0.0]
    assert out["is_dark_issue"].tolist() == [True, False, False]
    assert out["is_light_issue"].tolist() == [False, True, False]


@pytest.mark.parametrize("shape", [(37, 53, 3), (40, 30, 4), (5, 7), (3, 90, 2), (1, 1, 3)])
def test_brightness_percentiles_equal_numpy_on_cleanvision_brightness(shape):
    a = np.random.default_rng(7).integers(0, 256, shape, dtype=np.uint8)
    q = (1, 5, 10, 15, 50, 90, 95, 99, 0, 100)
    expected = np.percentile(cleanvision_brightness(a if len(shape) != 3 or shape[2] > 2
                                                    else a[..., 0]), q)
    np.testing.assert_allclose(brightness_percentiles(a, q), expected, rtol=0, atol=1e-12)


def test_brightness_keys_are_exact_above_float32_precision():
    # keys up to 65,025,000 need 26 bits: odd ones near white are not float32 numbers
    rng = np.random.default_rng(5)
    a = rng.integers(230, 256, (64, 48, 3), dtype=np.uint8)
    a[0, :3] = [[254, 255, 255], [255, 254, 255], [255, 255, 255]]
    r, g, b = (a[..., c].astype(np.int64) for c in range(3))
    keys = health._BrightnessKeys(a)
    np.testing.assert_array_equal(keys.high.astype(np.int64) * 65536 + keys.low,
                                  241 * r * r + 691 * g * g + 68 * b * b)
    expected = np.percentile(cleanvision_brightness(a), [0, 5, 50, 99, 100])
    np.testing.assert_allclose(brightness_percentiles(a, [0, 5, 50, 99, 100]), expected,
                               rtol=0, atol=1e-15)


def test_brightness_of_a_plateau_and_of_scattered_values_agree_with_numpy():
    # one high bin holding most pixels (a white background) takes the in-place count
    a = np.full((90, 70, 3), 255, np.uint8)
    a[:10] = np.random.default_rng(6).integers(0, 256, (10, 70, 3), dtype=np.uint8)
    expected = np.percentile(cleanvision_brightness(a), [1, 5, 99])
    np.testing.assert_allclose(brightness_percentiles(a, [1, 5, 99]), expected, rtol=0, atol=1e-15)


def test_brightness_of_a_plateau_of_several_keys_agrees_with_numpy():
    # (0, 0, b) with b < 31 has keys 68 b^2 < 65536: one high bin, many low values
    rng = np.random.default_rng(8)
    a = np.zeros((80, 60, 3), np.uint8)
    a[..., 2] = rng.integers(0, 31, (80, 60))
    a[:8] = rng.integers(0, 256, (8, 60, 3), dtype=np.uint8)
    q = [1, 5, 50, 99]
    np.testing.assert_allclose(brightness_percentiles(a, q),
                               np.percentile(cleanvision_brightness(a), q), rtol=0, atol=1e-15)


def test_brightness_of_equal_channels_is_the_gray_level():
    gray = pattern(30, 40, 1)
    rgb = np.repeat(gray[..., None], 3, axis=2)
    assert brightness_percentiles(rgb) == brightness_percentiles(gray)


def test_blurred_checkerboard_is_blurrier_than_sharp_one():
    sharp = checkerboard()
    blurred = cv2.GaussianBlur(sharp, (0, 0), 3)
    out = flags([sharp, blurred])
    assert blurriness(blurred)[0] < blurriness(sharp)[0]
    assert out.loc[1, "blurry_score"] < out.loc[0, "blurry_score"]
    assert out["is_blurry_issue"].tolist() == [False, True]


@pytest.mark.parametrize("shape", [(200, 300), (50, 40), (2, 9), (70, 1)])
def test_blurriness_follows_cleanvision_on_pillow(shape):
    gray = pattern(*shape, 1)
    image = Image.fromarray(gray)
    ratio = max(image.size) / 64
    if ratio > 1:
        image = image.resize((max(int(image.width // ratio), 1),
                              max(int(image.height // ratio), 1)))
    edges = image.filter(ImageFilter.FIND_EDGES)
    expected = (np.sqrt(ImageStat.Stat(edges).var[0]), np.std(image.histogram()))
    np.testing.assert_allclose(blurriness(gray), expected, rtol=1e-9)


def test_blur_thumbnail_of_a_large_image_uses_pillows_reducing_gap():
    gray = cv2.resize(pattern(120, 150, 1), (1500, 1200), interpolation=cv2.INTER_NEAREST)
    image = Image.fromarray(gray)
    thumb = image.resize((64, 51), Image.Resampling.BICUBIC, reducing_gap=health.BLUR_REDUCING_GAP)
    edges = thumb.filter(ImageFilter.FIND_EDGES)
    expected = (np.sqrt(ImageStat.Stat(edges).var[0]), np.std(thumb.histogram()))
    np.testing.assert_allclose(blurriness(gray), expected, rtol=1e-9)


def test_scores_from_decoder_stats_equal_scores_from_pixels():
    for a in (pattern(40, 60), pattern(40, 60, 4), np.repeat(pattern(40, 60, 1)[..., None], 3, 2)):
        bands = a.shape[2]
        counts = np.stack([np.bincount(a[..., b].ravel(), minlength=256) for b in range(bands)])
        assert image_scores(a, to_gray(a), counts) == image_scores(a)


def pillow_stats(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pillow's gray levels and band histograms of ``a``, as the decoder gives them."""
    image = Image.fromarray(a)
    counts = np.array(image.histogram(), np.int64).reshape(len(image.getbands()), 256)
    return np.asarray(image.convert("L")), counts


def with_alpha(a: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    return a if alpha is None else np.dstack([a, alpha])


def twin_pairs():
    """(reference, near copy) pairs: pasted patches, alpha gained or lost, a flat
    background, equal channels, identical images and unrelated ones."""
    rng = np.random.default_rng(11)
    base = smooth(3, (90, 70))
    base[:30] = 255  # a white band: a brightness plateau
    forged = base.copy()
    forged[40:52, 10:30] = base[5:17, 40:60]  # a copy-move patch
    forged[70, 3] = [1, 2, 3]  # and one lone pixel
    opaque = np.full((90, 70), 255, np.uint8)
    ragged = rng.integers(0, 256, (90, 70), dtype=np.uint8)
    gray = np.repeat(base[..., :1], 3, axis=2)
    gray_forged = gray.copy()
    gray_forged[50:60, 20:40] = 7
    return {
        "rgb": (base, forged),
        "rgb to rgba": (base, with_alpha(forged, opaque)),
        "rgba to rgb": (with_alpha(base, ragged), forged),
        "rgba to rgba, alpha changed": (with_alpha(base, opaque), with_alpha(forged, ragged)),
        "identical": (base, base.copy()),
        "equal channels": (gray, gray_forged),
        "colour to equal channels": (base, gray),
        "equal channels to colour": (gray, base),
        "unrelated": (base, smooth(4, (90, 70))),
        "other size": (base, smooth(4, (70, 90))),
        "gray file": (base, base[..., 1].copy()),
    }


@pytest.mark.parametrize("name", list(twin_pairs()))
def test_scores_of_a_near_copy_equal_its_own_scores(name, monkeypatch):
    monkeypatch.setattr(health, "HASH_BLOCK_BYTES", 1000)  # several blocks per image
    reference, copy_ = twin_pairs()[name]
    _, measured = score_image(reference, *pillow_stats(reference))
    scores, twin = score_image(copy_, like=measured)
    assert scores == image_scores(copy_, *pillow_stats(copy_))
    gray, counts = pillow_stats(copy_)
    np.testing.assert_array_equal(twin.gray, gray if copy_.ndim == 3 else copy_)
    np.testing.assert_array_equal(twin.band_counts, counts)
    # and a third image measured like the second, whose keys it took over
    third = copy_.copy()
    third[0] = 0
    assert score_image(third, like=twin)[0] == image_scores(third)


def test_a_near_copy_takes_the_brightness_keys_over():
    reference, copy_ = twin_pairs()["rgb"]
    _, measured = score_image(reference)
    keys = measured.keys
    _, twin = score_image(copy_, like=measured)
    assert twin.keys is keys and measured.keys is None
    # unrelated images (more than half the rows differ) are measured afresh
    _, other = score_image(smooth(5, (90, 70)), like=twin)
    assert other.keys is not keys and twin.keys is keys


def test_changed_rows_are_the_rows_that_differ():
    reference, copy_ = twin_pairs()["rgb"]
    _, measured = score_image(reference)
    expected = np.flatnonzero((reference != copy_).any(axis=(1, 2)))
    np.testing.assert_array_equal(health._changed_rows(measured, copy_), expected)
    opaque = with_alpha(copy_, np.full(copy_.shape[:2], 255, np.uint8))
    np.testing.assert_array_equal(health._changed_rows(measured, opaque), expected)


def test_decoder_stats_that_do_not_fit_are_refused():
    a = pattern(20, 30)
    with pytest.raises(ImageError, match="gray levels"):
        image_scores(a, gray=np.zeros((30, 20), np.uint8))
    with pytest.raises(ImageError, match="band histograms"):
        image_scores(a, band_counts=np.zeros((1, 256), np.int64))


def test_constant_image_has_low_information():
    out = flags([np.full((30, 30), 90, np.uint8), np.full((30, 30, 3), 90, np.uint8),
                 pattern(30, 30)])
    assert out["entropy"].tolist()[:2] == [0.0, pytest.approx(np.log2(3))]
    assert out["is_low_information_issue"].tolist() == [True, True, False]


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_entropy_equals_pillow(channels):
    a = pattern(33, 47, channels)
    assert entropy(a) == pytest.approx(Image.fromarray(a).entropy(), abs=1e-9)


def test_equal_channels_are_grayscale():
    gray = pattern(20, 30, 1)
    rgb = np.repeat(gray[..., None], 3, axis=2)
    rgba = np.dstack([rgb, np.arange(600, dtype=np.uint8).reshape(20, 30)])
    colour = rgb.copy()
    colour[3, 4, 2] += 1
    assert [is_grayscale(a) for a in (gray, rgb, rgba, colour)] == [True, True, True, False]
    out = flags([gray, rgb, rgba, colour])
    assert out["is_grayscale_issue"].tolist() == [True, True, True, False]
    assert out["grayscale_score"].tolist() == [0.0, 0.0, 0.0, 1.0]


@pytest.mark.parametrize("channels", [3, 4])
def test_gray_conversion_is_pillows(channels):
    a = pattern(25, 35, channels)
    assert np.array_equal(to_gray(a), np.asarray(Image.fromarray(a).convert("L")))


def test_strip_has_odd_aspect_ratio():
    out = flags([pattern(1, 20), pattern(20, 20), pattern(20, 7)])
    assert out["odd_aspect_ratio_score"].tolist() == [0.05, 1.0, 0.35]
    assert out["is_odd_aspect_ratio_issue"].tolist() == [True, False, False]


# --------------------------------------------------------------------------- hashes


def test_pixel_hash_is_pinned_and_sees_shape():
    a = pattern(4, 6, 1)
    assert pixel_hash(a) == pixel_hash(a.copy()) == pixel_hash(np.asfortranarray(a))
    # one block: SHA-1 of the header and the block's digest
    block = hashlib.sha1(a.tobytes()).digest()
    assert pixel_hash(a) == hashlib.sha1(b"(4, 6)|" + b"|u1|" + block).hexdigest()
    assert pixel_hash(a) == "c84dc6abbf9ee6e2b8166bfbfaf067e99ebc480f"
    assert pixel_hash(a.reshape(6, 4)) != pixel_hash(a)


def test_pixel_hash_hashes_blocks_of_whole_rows(monkeypatch):
    monkeypatch.setattr(health, "HASH_BLOCK_BYTES", 10)  # rows of 6 bytes: 1 per block
    a = pattern(3, 2)
    blocks = [hashlib.sha1(a[y].tobytes()).digest() for y in range(3)]
    assert pixel_hash(a) == hashlib.sha1(b"(3, 2, 3)|" + b"|u1|" + b"".join(blocks)).hexdigest()
    monkeypatch.setattr(health, "HASH_BLOCK_BYTES", 12)  # two rows per block
    b = a.copy()
    b[2] = 0
    _, digests = health._pixel_hash(a)
    assert health._pixel_hash(b, digests, np.array([2]))[0] == pixel_hash(b) != pixel_hash(a)
    # a digest taken from the other image where the rows differ would give it away
    assert health._pixel_hash(b, digests, np.array([0]))[0] != pixel_hash(b)


@pytest.mark.parametrize("channels, expected", [
    (1, "9cfbbc54bd214170"), (3, "febbaa14d58044f8"), (4, "febbaa14d58044f8"),
])
def test_perceptual_hash_equals_imagehash(channels, expected):
    assert perceptual_hash(to_gray(pattern(45, 70, channels))) == expected  # imagehash 4.3.2


def test_exact_copy_is_exact_duplicate_not_near():
    a = pattern(30, 40)
    out = flags([a, a.copy(), pattern(30, 41)])
    assert out["is_exact_duplicates_issue"].tolist() == [True, True, False]
    assert out["exact_duplicates_score"].tolist() == [0.5, 0.5, 1.0]
    assert not out["is_near_duplicates_issue"].any()  # the near set equals the exact set


def test_noised_and_resized_copies_are_near_duplicates_unrelated_is_not():
    base = smooth(0)
    noise = np.random.default_rng(100).integers(-3, 4, base.shape)
    noised = np.clip(base.astype(int) + noise, 0, 255).astype(np.uint8)
    resized = cv2.resize(base, (144, 108), interpolation=cv2.INTER_AREA)
    out = flags([base, noised, resized, smooth(1000)])
    assert out["is_near_duplicates_issue"].tolist() == [True, True, True, False]
    assert out["near_duplicates_score"].tolist() == pytest.approx([1 / 3] * 3 + [1])
    assert not out["is_exact_duplicates_issue"].any()


def test_near_set_larger_than_exact_set_is_kept():
    base = smooth(0)
    noised = np.clip(base.astype(int) + 1, 0, 255).astype(np.uint8)
    out = flags([base, base.copy(), noised])
    assert out["is_exact_duplicates_issue"].tolist() == [True, True, False]
    assert out["is_near_duplicates_issue"].tolist() == [True, True, True]


def test_duplicate_groups_lists_sets_with_unique_ids():
    a, b = pattern(30, 40), smooth(0)
    scores = table([a, b, a.copy(), np.clip(b.astype(int) + 1, 0, 255).astype(np.uint8)])
    scores.index = ["w", "x", "y", "z"]
    groups = duplicate_groups(scores)
    assert groups.values.tolist() == [["w", "exact", 0], ["y", "exact", 0],
                                      ["x", "near", 1], ["z", "near", 1]]


def test_duplicate_groups_of_no_duplicates_is_empty_and_typed():
    groups = duplicate_groups(table([pattern(10, 10), smooth(1)]))
    assert groups.empty
    assert list(groups.columns) == ["image", "kind", "group"]
    assert groups["group"].dtype == np.int64


# --------------------------------------------------------------------------- dataset step


def test_odd_size_is_relative_to_the_dataset():
    sizes = [(100 + k, 100) for k in range(10)] + [(1000, 1000), (5, 5)]
    out = flags([np.full((h, w), 128, np.uint8) for h, w in sizes])
    assert out["is_odd_size_issue"].tolist() == [False] * 10 + [True, True]


def test_odd_size_with_equal_sizes_flags_any_other_size():
    out = flags([np.full((50, 50), 128, np.uint8)] * 5 + [np.full((50, 51), 128, np.uint8)])
    assert out["is_odd_size_issue"].tolist() == [False] * 5 + [True]


def test_thresholds_are_overridable_and_defaults_untouched():
    before = copy.deepcopy(DEFAULTS)
    images = [np.zeros((40, 50, 3), np.uint8), pattern(40, 50)]
    assert flags(images, {"dark": {"threshold": 0.0}})["is_dark_issue"].sum() == 0
    assert flags(images, {"dark": {"threshold": 1.01}})["is_dark_issue"].sum() == 2
    info = flags(images, {"low_information": {"normalizing_factor": 0.01}})
    assert info["low_information_score"].tolist() == pytest.approx(
        [0.01 * e for e in info["entropy"]])
    assert DEFAULTS == before
    assert merged_thresholds()["dark"] is not DEFAULTS["dark"]


@pytest.mark.parametrize("overrides, key", [
    ({"darkness": {"threshold": 0.1}}, "darkness"),
    ({"dark": {"treshold": 0.1}}, "dark.treshold"),
    ({"blurry": {"threshold": "0.3"}}, "blurry.threshold"),
    ({"dark": {"threshold": None}}, "dark.threshold"),
    ({"grayscale": {"threshold": 0.5}}, "grayscale.threshold"),
])
def test_unknown_or_mistyped_thresholds_are_errors(overrides, key):
    with pytest.raises(ConfigError) as err:
        merged_thresholds(overrides)
    assert err.value.key == key


def test_scores_are_in_their_documented_ranges():
    rng = np.random.default_rng(3)
    images = [rng.integers(0, 256, (30, 40, 3), dtype=np.uint8), pattern(1, 20),
              np.zeros((9, 9), np.uint8), np.full((12, 5, 4), 255, np.uint8), smooth(2),
              cv2.GaussianBlur(checkerboard(), (0, 0), 4), pattern(64, 64, 2)]
    out = flags(images)
    for issue in ISSUES:
        assert out[f"{issue}_score"].between(0, 1).all(), issue
        assert out[f"is_{issue}_issue"].dtype == bool
    assert out["blurriness"].between(0, 127.5).all()
    assert (out["entropy"] >= 0).all() and (out["entropy"] <= 10).all()
    assert out["phash"].str.fullmatch("[0-9a-f]{16}").all()
    assert out["pixel_hash"].str.fullmatch("[0-9a-f]{40}").all()


def test_image_scores_match_flag_issues_with_defaults():
    scores = table([pattern(40, 60), smooth(4)])
    out = flag_issues(scores)
    for name in ("dark_score", "light_score", "low_information_score", "blurry_score",
                 "odd_aspect_ratio_score"):
        assert out[name].tolist() == pytest.approx(scores[name].tolist())


def test_rows_without_measurements_are_never_flagged():
    scores = table([pattern(40, 60), pattern(40, 60)]).astype({"grayscale": object})
    scores.loc[2] = None
    out = flag_issues(scores)
    assert out.loc[[0, 1], "is_exact_duplicates_issue"].all()
    assert not out.loc[2, [f"is_{i}_issue" for i in ISSUES]].any()


def test_empty_table_keeps_its_columns():
    out = flag_issues(pd.DataFrame(columns=list(RAW_COLUMNS)))
    assert out.empty
    assert {f"is_{i}_issue" for i in ISSUES} <= set(out.columns)


def test_missing_raw_column_is_an_error():
    with pytest.raises(KeyError, match="phash"):
        flag_issues(table([pattern(10, 10)]).drop(columns="phash"))


@pytest.mark.parametrize("array, kind", [
    (np.zeros((4, 4), np.uint16), "image_dtype"),
    (np.zeros((4, 4, 5), np.uint8), "image_shape"),
    (np.zeros((0, 4), np.uint8), "image_shape"),
])
def test_unusable_arrays_are_refused(array, kind):
    with pytest.raises(ImageError) as err:
        image_scores(array)
    assert err.value.kind == kind
