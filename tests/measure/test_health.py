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
    score_pair,
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


def with_alpha(a: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    return a if alpha is None else np.dstack([a, alpha])


def twin_pairs():
    """{name: (first, second, measured from the first)}: pasted patches, alpha gained or
    lost, a flat background, equal channels, gray files, identical images, unrelated
    ones, and a large pair whose rows span several hash blocks and brightness chunks."""
    rng = np.random.default_rng(11)
    base = smooth(3, (90, 70))
    base[:30] = 255  # a white band: a brightness plateau
    forged = base.copy()
    forged[40:52, 10:30] = base[5:17, 40:60]  # a copy-move patch
    forged[70, 3] = [1, 2, 3]  # and one lone pixel
    into_white = base.copy()
    into_white[20:40, 5:50] = base[50:70, 5:50]  # over the plateau's edge, both ways
    into_white[60:64, 10:20] = 255
    edges = base.copy()
    edges[0, :5] = 0  # the first row
    edges[-1, -5:] = 0  # and the last
    half = base.copy()
    half[::2] = 255 - half[::2]  # 45 of 90 rows: still a near copy
    over_half = half.copy()
    over_half[1] = 0  # 46 of 90 rows: measured alone
    opaque = np.full((90, 70), 255, np.uint8)
    ragged = rng.integers(0, 256, (90, 70), dtype=np.uint8)
    holes = opaque.copy()
    holes[60:66] = ragged[60:66]
    gray = np.repeat(base[..., :1], 3, axis=2)
    gray_forged = gray.copy()
    gray_forged[50:60, 20:40] = 7
    tinted = gray.copy()
    tinted[50:60, 20:40] = [200, 10, 10]
    large = smooth(7, (1100, 700))
    large_forged = large.copy()
    large_forged[360:520, 100:400] = large[40:200, 300:600]  # across chunk and block edges
    return {
        "rgb": (base, forged, True),
        "rgb to rgba": (base, with_alpha(forged, opaque), True),
        "rgba to rgb": (with_alpha(base, ragged), forged, True),
        "rgba to rgba, alpha changed": (with_alpha(base, opaque), with_alpha(forged, holes),
                                        True),
        "rgba to rgba, alpha changed everywhere": (with_alpha(base, opaque),
                                                   with_alpha(forged, ragged), False),
        "into the white band": (base, into_white, True),
        "first and last rows": (base, edges, True),
        "half the rows": (base, half, True),
        "more than half the rows": (base, over_half, False),
        "identical": (base, base.copy(), True),
        "equal channels": (gray, gray_forged, True),
        "colour to equal channels": (tinted, gray, True),
        "equal channels to colour": (gray, tinted, True),
        "colour to its equal channels": (base, gray, False),
        "unrelated": (base, smooth(4, (90, 70)), False),
        "other size": (base, smooth(4, (70, 90)), False),
        "colour to gray file": (base, base[..., 1].copy(), False),
        "gray file to colour": (base[..., 1].copy(), base, False),
        "gray files": (base[..., 1].copy(), forged[..., 1].copy(), False),
        "gray + alpha": (with_alpha(base[..., 1], ragged), with_alpha(forged[..., 1], opaque),
                         False),
        "gray + alpha to rgba": (with_alpha(base[..., 1], opaque), with_alpha(forged, opaque),
                                 False),
        "large": (large, large_forged, True),
    }


@pytest.fixture
def small_blocks(monkeypatch):
    """Several pixel-hash blocks and brightness chunks even in a small image."""
    monkeypatch.setattr(health, "HASH_BLOCK_BYTES", 1000)
    monkeypatch.setattr(health, "_CHUNK_PIXELS", 700)


@pytest.mark.parametrize("name", list(twin_pairs()))
def test_a_pair_scores_as_each_image_alone(name, small_blocks):
    first, second, near = twin_pairs()[name]
    assert (health._changed_rows(first, second) is not None) == near  # the path under test
    assert score_pair(first, second) == (image_scores(first), image_scores(second))


def test_a_large_pair_scores_as_each_image_alone_at_the_real_block_sizes():
    first, second, _ = twin_pairs()["large"]
    a, b = health._measure(first)[1], health._measure(second)[1]
    # rows 360:520 cross a brightness chunk's edge (row 374) and a hash block's (499)
    assert health._CHUNK_PIXELS // 700 == 374 and health._hash_rows(first) == 499
    assert [x != y for x, y in zip(a.hash_blocks, b.hash_blocks)] == [True, True, False]
    assert a.thumb.rows is not None  # the perceptual hash's first pass is reused
    np.testing.assert_array_equal(health._changed_rows(first, second), np.arange(360, 520))
    assert score_pair(first, second) == (image_scores(first), image_scores(second))


def pillow_stats(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pillow's gray levels and band histograms of ``a``."""
    image = Image.fromarray(a)
    counts = np.array(image.histogram(), np.int64).reshape(len(image.getbands()), 256)
    return np.asarray(image.convert("L")), counts


@pytest.mark.parametrize("name", [name for name, (_, _, near) in twin_pairs().items() if near])
def test_the_work_of_a_near_copy_is_its_own_work(name, small_blocks):
    first, second, _ = twin_pairs()[name]
    _, work = health._measure(first)
    _, near = health._measure(second, work, health._changed_rows(first, second))
    _, alone = health._measure(second)
    gray, counts = pillow_stats(second)
    np.testing.assert_array_equal(near.gray, gray)
    np.testing.assert_array_equal(near.band_counts, counts)
    assert near.hash_blocks == alone.hash_blocks
    np.testing.assert_array_equal(near.thumb.pixels, alone.thumb.pixels)
    if alone.keys is None:
        assert near.keys is None
        return
    for plane in ("high", "low", "high_counts"):
        np.testing.assert_array_equal(getattr(near.keys, plane), getattr(alone.keys, plane))
    assert near.keys._low_counts  # the percentiles' bins, corrected or counted
    for bin_, low_counts in near.keys._low_counts.items():
        in_bin = alone.keys.low[alone.keys.high == bin_]
        np.testing.assert_array_equal(low_counts, np.bincount(in_bin, minlength=1 << 16))


def test_a_pair_leaves_its_images_alone_and_scores_the_same_twice(small_blocks):
    first, second, _ = twin_pairs()["into the white band"]
    kept = first.copy(), second.copy()
    for a in (first, second):
        a.flags.writeable = False  # a write would raise
    rows = score_pair(first, second)
    assert score_pair(first, second) == rows
    np.testing.assert_array_equal(first, kept[0])
    np.testing.assert_array_equal(second, kept[1])


def test_patched_brightness_keys_leave_the_original_keys_alone():
    first, second, _ = twin_pairs()["into the white band"]
    keys = health._BrightnessKeys(first)
    before = brightness_percentiles(first, (1, 5, 50, 99))
    ranks = [keys.of_rank(r) for r in (0, 1000, 6000)]
    planes = keys.high.copy(), keys.low.copy(), keys.high_counts.copy()
    cached = {bin_: counts.copy() for bin_, counts in keys._low_counts.items()}
    patched = keys.patched(second, health._changed_rows(first, second))
    assert patched.of_rank(6000) != ranks[2] or patched.of_rank(1000) != ranks[1]
    assert [keys.of_rank(r) for r in (0, 1000, 6000)] == ranks
    for now, then in zip((keys.high, keys.low, keys.high_counts), planes):
        np.testing.assert_array_equal(now, then)
    assert keys._low_counts.keys() >= cached.keys()
    for bin_, counts in cached.items():
        np.testing.assert_array_equal(keys._low_counts[bin_], counts)
    assert brightness_percentiles(first, (1, 5, 50, 99)) == before


def test_changed_rows_are_the_rows_that_differ():
    reference, copy_, _ = twin_pairs()["rgb"]
    expected = np.flatnonzero((reference != copy_).any(axis=(1, 2)))
    np.testing.assert_array_equal(health._changed_rows(reference, copy_), expected)
    opaque = with_alpha(copy_, np.full(copy_.shape[:2], 255, np.uint8))
    np.testing.assert_array_equal(health._changed_rows(reference, opaque), expected)


def test_gray_levels_that_are_not_gray_are_refused():
    for measure in (blurriness, perceptual_hash):
        with pytest.raises(ImageError, match="gray levels") as err:
            measure(np.zeros((20, 30, 3), np.uint8))
        assert err.value.kind == "image_shape"


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
    good = pattern(4, 4)
    for pair, name in (((array, good), "first"), ((good, array), "second")):
        with pytest.raises(ImageError, match=name) as err:
            score_pair(*pair)
        assert err.value.kind == kind
