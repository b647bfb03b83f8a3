"""Tests of eda_lib.measure.copymove on small hand-made images of textured noise."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from eda_lib.errors import ConfigError, ImageError, MaskError
from eda_lib.geometry import box_iou
from eda_lib.measure.copymove import (
    TRANSFORMS,
    CopyMoveResult,
    analyze_image,
    apply_transform,
    inverse_transform,
    search_source,
)

# --------------------------------------------------------------------------- helpers

SOURCE_BOX = (20, 24, 63, 59)  # x1, y1, x2, y2: 44 wide, 36 high
TARGET_TOP_LEFT = (120, 90)


def textured(seed: int, shape: tuple[int, int] = (160, 200)) -> np.ndarray:
    """Smooth random structure plus pixel noise, as RGB uint8."""
    rng = np.random.default_rng(seed)
    smooth = cv2.GaussianBlur(rng.normal(0, 1, (*shape, 3)).astype(np.float32), (0, 0), 2.0)
    values = 128 + 40 * smooth / smooth.std() + rng.normal(0, 4, (*shape, 3))
    return np.clip(values, 0, 255).astype(np.uint8)


def ellipse_mask(h: int, w: int) -> np.ndarray:
    mask = np.zeros((h, w), np.uint8)
    cv2.ellipse(mask, (w // 2, h // 2), (w // 2, h // 2), 0, 0, 360, 1, -1)
    return mask > 0


def forge(image: np.ndarray, transform: str, scale: float = 1.0, gain: float = 1.0,
          offset: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple, tuple]:
    """Paste the ellipse at SOURCE_BOX to TARGET_TOP_LEFT under ``transform`` and ``scale``.

    Returns the forged image, the source and target masks and both boxes.
    """
    x1, y1, x2, y2 = SOURCE_BOX
    shape = ellipse_mask(y2 - y1 + 1, x2 - x1 + 1)
    patch = np.ascontiguousarray(apply_transform(image[y1 : y2 + 1, x1 : x2 + 1], transform))
    moved = np.ascontiguousarray(apply_transform(shape, transform)).astype(np.uint8)
    if scale != 1.0:
        size = (round(patch.shape[1] * scale), round(patch.shape[0] * scale))
        patch = cv2.resize(patch, size, interpolation=cv2.INTER_LINEAR)
        moved = cv2.resize(moved, size, interpolation=cv2.INTER_NEAREST)
    patch = np.clip(patch.astype(np.float32) * gain + offset, 0, 255).astype(np.uint8)
    th, tw = moved.shape
    tx, ty = TARGET_TOP_LEFT
    forged = image.copy()
    forged[ty : ty + th, tx : tx + tw][moved > 0] = patch[moved > 0]
    source = np.zeros(image.shape[:2], bool)
    source[y1 : y2 + 1, x1 : x2 + 1] = shape
    target = np.zeros(image.shape[:2], bool)
    target[ty : ty + th, tx : tx + tw] = moved > 0
    return forged, source, target, box_of(source), box_of(target)


def box_of(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1])


def overlap_of_smaller(a, b) -> float:
    iw = max(0, min(a[2], b[2]) - max(a[0], b[0]) + 1)
    ih = max(0, min(a[3], b[3]) - max(a[1], b[1]) + 1)
    area = lambda r: (r[2] - r[0] + 1) * (r[3] - r[1] + 1)  # noqa: E731
    return iw * ih / min(area(a), area(b))


# --------------------------------------------------------------------------- transforms


def test_masked_score_map_equals_opencvs_masked_match():
    from eda_lib.measure.copymove import _masked_ccoeff_normed

    rng = np.random.default_rng(2)
    image = cv2.cvtColor(textured(3), cv2.COLOR_RGB2GRAY).astype(np.float32) + 100
    templ = image[40:70, 30:62].copy()
    mask = (rng.random(templ.shape) > 0.3).astype(np.uint8)
    expected = cv2.matchTemplate(image, templ, cv2.TM_CCOEFF_NORMED, mask=mask)
    score, variance = _masked_ccoeff_normed(image, templ, mask)
    np.testing.assert_allclose(score, expected, atol=1e-4)
    assert score[40, 30] == pytest.approx(1.0, abs=1e-5)
    window = image[40:70, 30:62][mask > 0]
    assert variance[40, 30] == pytest.approx(window.var(), rel=1e-4)


def test_transforms_follow_numpy_semantics():
    a = np.arange(6).reshape(2, 3)
    expected = {
        "identity": a,
        "flip_h": np.fliplr(a),
        "flip_v": np.flipud(a),
        "rot90": np.rot90(a, 1),
        "rot180": np.rot90(a, 2),
        "rot270": np.rot90(a, 3),
        "transpose": a.T,
        "anti_transpose": np.rot90(a.T, 2),
    }
    assert set(expected) == set(TRANSFORMS)
    for name, want in expected.items():
        np.testing.assert_array_equal(apply_transform(a, name), want, err_msg=name)
    # anti_transpose mirrors about the anti-diagonal: b[i, j] = a[H-1-j, W-1-i]
    assert apply_transform(a, "anti_transpose")[0, 1] == a[2 - 1 - 1, 3 - 1 - 0]


@pytest.mark.parametrize("name", TRANSFORMS)
def test_inverse_transform_round_trips(name):
    a = np.arange(2 * 3 * 4).reshape(2, 3, 4)  # channels follow the first two axes
    moved = apply_transform(a, name)
    np.testing.assert_array_equal(apply_transform(moved, inverse_transform(name)), a)
    assert moved.shape[2] == 4


def test_unknown_transform_is_a_config_error():
    with pytest.raises(ConfigError, match="rot45"):
        apply_transform(np.zeros((2, 2)), "rot45")
    with pytest.raises(ConfigError):
        inverse_transform("mirror")


# --------------------------------------------------------------------------- search


@pytest.mark.parametrize("name", TRANSFORMS)
def test_search_recovers_source_and_transform(name):
    forged, _, target, source_box, target_box = forge(textured(1), name)
    (result,), check = analyze_image(forged, target[None])
    assert check is None
    assert result.method == "search"
    assert result.target_box == target_box
    assert result.transform == name
    assert box_iou(result.source_box, source_box) >= 0.5
    assert (result.dx, result.dy) == (
        target_box[0] - result.source_box[0], target_box[1] - result.source_box[1])
    assert result.verdict == "copy"
    assert result.identical_frac == pytest.approx(1.0)


def test_search_never_finds_the_target_at_its_own_location():
    # Regression: the old template matching found the target's own pixels (score 1.0).
    image = textured(2)
    for seed in range(6):
        rng = np.random.default_rng(seed)
        region = np.zeros(image.shape[:2], bool)
        y, x = rng.integers(0, 110), rng.integers(0, 150)
        region[y : y + 40, x : x + 40] = ellipse_mask(40, 40)
        result = search_source(image, region)
        assert result.source_box is not None
        assert overlap_of_smaller(result.source_box, box_of(region)) <= 0.25
        assert result.ncc < 0.99


def test_search_excludes_a_given_box():
    forged, _, target, source_box, _ = forge(textured(3), "rot90")
    result = search_source(forged, target, exclude_box=source_box)
    assert box_iou(result.source_box, source_box) < 0.5
    assert result.verdict != "copy"


def test_brightness_change_still_counts_as_identical():
    forged, _, target, source_box, _ = forge(textured(4), "flip_v", gain=0.85, offset=12)
    (result,), _ = analyze_image(forged, target[None])
    assert result.transform == "flip_v"
    assert box_iou(result.source_box, source_box) >= 0.5
    assert result.identical_frac > 0.9
    assert result.verdict == "copy"


def test_search_refines_the_scale_of_a_resampled_copy():
    forged, _, target, source_box, _ = forge(textured(16), "rot90", scale=1.2)
    (result,), _ = analyze_image(forged, target[None])
    assert result.transform == "rot90"
    assert result.scale == pytest.approx(1.2, abs=0.02)  # between the coarse 1.12 and 1.25
    assert box_iou(result.source_box, source_box) >= 0.7
    # a resampled match found by searching is never called a copy (see the module doc)
    assert result.verdict == "unsure"


def test_random_regions_of_an_authentic_image_are_not_copies():
    image = textured(5, (200, 260))
    rng = np.random.default_rng(0)
    verdicts = []
    for _ in range(8):
        h, w = rng.integers(12, 50, 2)
        y, x = rng.integers(0, 200 - h), rng.integers(0, 260 - w)
        region = np.zeros(image.shape[:2], bool)
        region[y : y + h, x : x + w] = True
        verdicts.append(search_source(image, region).verdict)
    assert "copy" not in verdicts
    assert "unsure" in verdicts  # textured regions are decided, not waved through


def test_flat_region_is_undecidable():
    image = textured(6)
    image[10:70, 10:80] = 140  # blank background, no noise
    x1, y1 = 15, 15
    shape = ellipse_mask(30, 40)
    forged = image.copy()
    forged[100:130, 130:170][shape] = image[y1 : y1 + 30, x1 : x1 + 40][shape]
    target = np.zeros(image.shape[:2], bool)
    target[100:130, 130:170] = shape
    (result,), _ = analyze_image(forged, target[None])
    assert result.texture < 64
    assert result.verdict == "undecidable"


# --------------------------------------------------------------------------- twin and pairs


def test_twin_labels_target_and_source():
    image = textured(7)
    forged, source, target, source_box, target_box = forge(image, "transpose")
    (result,), check = analyze_image(forged, (source | target)[None].astype(np.uint8), image)
    assert result.method == "twin_diff"
    assert result.transform == "transpose"
    assert result.target_box == target_box
    assert box_iou(result.source_box, source_box) >= 0.5
    assert result.verdict == "copy"
    roles = {c.box: c.role for c in check.components}
    assert roles == {target_box: "target", source_box: "source"}
    assert check.changed_outside_mask_px == 0
    assert check.marked_unchanged_px >= source.sum()
    assert 0 < check.changed_px <= target.sum()


def test_twin_with_target_only_channel_searches_for_the_source():
    image = textured(8)
    forged, _, target, source_box, _ = forge(image, "rot270")
    (result,), check = analyze_image(forged, target[None], image)
    assert result.method == "twin_diff"
    assert result.transform == "rot270"
    assert box_iou(result.source_box, source_box) >= 0.5
    assert [c.role for c in check.components] == ["target"]


def test_twin_reports_changes_outside_the_mask():
    image = textured(9)
    forged, source, target, _, _ = forge(image, "identity")
    forged[0:5, 150:160] = 0  # an unlabelled edit
    _, check = analyze_image(forged, (source | target)[None], image)
    assert check.changed_outside_mask_px == int((image[0:5, 150:160].max(axis=2) > 8).sum())


@pytest.mark.parametrize("name", ["identity", "rot90", "anti_transpose"])
def test_mask_pair_recovers_the_pair(name):
    forged, source, target, source_box, target_box = forge(textured(10), name)
    (result,), _ = analyze_image(forged, (source | target)[None])
    assert result.method == "mask_pair"
    # the pasted copy cuts the texture around it: the seam picks it as the target
    assert result.target_box == target_box
    assert result.transform == name
    assert box_iou(result.source_box, source_box) >= 0.5
    assert result.scale == 1.0
    assert result.verdict == "copy"
    assert result.margin > 0.2


def test_mask_pair_recovers_scale():
    forged, source, target, source_box, target_box = forge(textured(11), "flip_h", scale=1.2)
    (result,), _ = analyze_image(forged, (source | target)[None])
    assert result.transform == "flip_h"
    assert result.scale == pytest.approx(1.2, abs=0.03)
    assert box_iou(result.source_box, source_box) >= 0.5
    assert result.verdict == "copy"


# --------------------------------------------------------------------------- results and inputs


def test_one_result_per_channel_in_order():
    forged, source, target, _, _ = forge(textured(12), "rot180")
    masks = np.stack([target, np.zeros_like(target), source | target]).astype(np.uint8)
    results, _ = analyze_image(forged, masks)
    assert [r.instance for r in results] == [1, 2, 3]
    assert [r.method for r in results] == ["search", "none", "mask_pair"]
    assert results[1].verdict == "undecidable"


def test_as_row_is_flat():
    forged, _, target, _, _ = forge(textured(13), "identity")
    (result,), _ = analyze_image(forged, target[None])
    row = result.as_row()
    assert list(row)[:2] == ["instance", "method"]
    for prefix in ("target", "source"):
        for key in ("x1", "y1", "x2", "y2"):
            assert isinstance(row[f"{prefix}_{key}"], int)
    assert all(not isinstance(v, tuple) for v in row.values())
    empty = CopyMoveResult(1, "none", None, None, None, None, None, None, None, None, None,
                           None, None, "undecidable")
    assert empty.as_row()["source_x1"] is None


def test_gray_image_is_accepted():
    forged, _, target, source_box, _ = forge(textured(14), "flip_h")
    gray = forged[..., 1]
    (result,), _ = analyze_image(gray, target[None])
    assert box_iou(result.source_box, source_box) >= 0.5


def test_bad_inputs_name_the_fix():
    image = textured(15)
    with pytest.raises(MaskError, match="mask\\[None\\]"):
        analyze_image(image, np.zeros(image.shape[:2], np.uint8))
    with pytest.raises(ImageError, match="alpha"):
        analyze_image(np.zeros((8, 8, 4), np.uint8), np.zeros((1, 8, 8), np.uint8))
    with pytest.raises(ImageError, match="twin"):
        analyze_image(image, np.zeros((1, *image.shape[:2]), np.uint8), image[:-1])
    with pytest.raises(ConfigError, match="seach_scales"):
        analyze_image(image, np.zeros((1, *image.shape[:2]), np.uint8), seach_scales=(1.0,))
