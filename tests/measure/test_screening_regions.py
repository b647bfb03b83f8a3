"""The screen's target regions at full resolution: made as box and crop, verified one at a time."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from eda_lib.geometry import bbox
from eda_lib.measure import copymove
from eda_lib.measure.screening import _paste, _upsample


def full_size(mask: np.ndarray, shape: tuple[int, int], f: float) -> np.ndarray:
    """The working mask at full resolution as an image-sized array: the box of its pixels,
    its corners mapped by ``1 / f``, resized by nearest neighbour."""
    if f == 1.0:
        return mask.copy()
    h, w = shape
    x1, y1, x2, y2 = bbox(mask)
    fx1, fy1 = math.floor(x1 / f), math.floor(y1 / f)
    fx2, fy2 = min(w - 1, math.ceil((x2 + 1) / f) - 1), min(h - 1, math.ceil((y2 + 1) / f) - 1)
    out = np.zeros(shape, bool)
    out[fy1 : fy2 + 1, fx1 : fx2 + 1] = cv2.resize(
        mask[y1 : y2 + 1, x1 : x2 + 1].astype(np.uint8), (fx2 - fx1 + 1, fy2 - fy1 + 1),
        interpolation=cv2.INTER_NEAREST) > 0
    return out


@pytest.mark.parametrize("f", [1.0, 0.5, 512 / 1380, 512 / 3888])
def test_box_and_crop_are_the_full_size_mask(f):
    rng = np.random.default_rng(round(f * 1000))
    shape = (int(300 / f) if f != 1.0 else 300, int(400 / f) if f != 1.0 else 400)
    work_shape = (round(shape[0] * f), round(shape[1] * f))
    for _ in range(20):
        mask = np.zeros(work_shape, bool)
        y, x = rng.integers(0, work_shape[0] - 40), rng.integers(0, work_shape[1] - 40)
        blob = rng.random((rng.integers(1, 40), rng.integers(1, 40))) < 0.6
        mask[y : y + blob.shape[0], x : x + blob.shape[1]] = blob
        if not mask.any():
            continue
        expected = full_size(mask, shape, f)
        box, crop = _upsample(mask, shape, f)
        assert box == bbox(expected)
        assert crop.shape == (box[3] - box[1] + 1, box[2] - box[0] + 1)
        assert np.array_equal(_paste(crop, box, shape), expected)


def test_an_empty_mask_has_no_region():
    assert _upsample(np.zeros((50, 60), bool), (100, 120), 0.5) is None


def test_verify_pairs_takes_the_pairs_one_at_a_time():
    rng = np.random.default_rng(3)
    smooth = cv2.GaussianBlur(rng.normal(0, 1, (200, 260)).astype(np.float32), (0, 0), 1.5)
    image = np.clip(128 + 35 * smooth / smooth.std() + rng.normal(0, 4, smooth.shape), 0, 255
                    ).astype(np.uint8)
    image[120:170, 160:230] = np.fliplr(image[20:70, 30:100])
    target = np.zeros(image.shape, bool)
    target[120:170, 160:230] = True
    other = np.zeros(image.shape, bool)
    other[10:40, 200:240] = True
    pairs = [(target, (30, 20, 99, 69)), (other, (100, 150, 139, 179))]
    taken = []

    def one_at_a_time():
        for pair in pairs:
            taken.append(len(taken))
            yield pair

    from_list = copymove.verify_pairs(image, pairs)
    from_generator = copymove.verify_pairs(image, one_at_a_time())
    assert taken == [0, 1]
    assert from_generator == from_list
    assert from_list[0].transform == "flip_h" and from_list[0].ncc > 0.95
