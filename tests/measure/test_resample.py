"""eda_lib.measure.resample must equal Pillow's resize bit for bit, on whichever route it takes."""

from __future__ import annotations

import doctest

import numpy as np
import pytest
from PIL import Image
from scipy.ndimage import uniform_filter

from eda_lib.errors import ImageError
from eda_lib.measure import resample
from eda_lib.measure.resample import resize

LANCZOS, BICUBIC = Image.Resampling.LANCZOS, Image.Resampling.BICUBIC


def pillow(gray: np.ndarray, size: tuple[int, int], filt: Image.Resampling) -> np.ndarray:
    return np.asarray(Image.fromarray(gray).resize(size, filt))


@pytest.fixture
def matrices_always(monkeypatch):
    """Force the matrix route at every size, in small blocks, from empty caches."""
    monkeypatch.setattr(resample, "_PIXELS_PER_COEFFICIENT", 0)
    monkeypatch.setattr(resample, "_BLOCK", 997)  # blocks of a few rows or columns
    monkeypatch.setattr(resample, "_AXES", {})
    monkeypatch.setattr(resample, "_SEEN", set())


def images(rng: np.random.Generator, h: int, w: int):
    """Noise, a pixel checkerboard (overshoots the filters, so the clipping matters),
    a constant and a smooth ramp."""
    yield rng.integers(0, 256, (h, w), dtype=np.uint8)
    yield (np.indices((h, w)).sum(0) % 2 * 255).astype(np.uint8)
    yield np.full((h, w), 200, np.uint8)
    yield np.add.outer(np.arange(h), np.arange(w)).astype(np.uint8)


@pytest.mark.parametrize("filt", [LANCZOS, BICUBIC])
def test_matrix_route_equals_pillow_on_random_sizes(matrices_always, filt):
    rng = np.random.default_rng(7)
    for _ in range(60):
        h, w = (int(v) for v in rng.integers(1, 260, 2))
        size = tuple(int(v) for v in rng.integers(1, 90, 2))
        for gray in images(rng, h, w):
            np.testing.assert_array_equal(resize(gray, size, filt), pillow(gray, size, filt),
                                          err_msg=f"{gray.shape} -> {size}")


@pytest.mark.parametrize("shape, size", [
    ((400, 60), (32, 32)),  # height shrinks much more than width: Pillow goes vertical first
    ((60, 400), (32, 32)),  # horizontal first
    ((300, 100), (100, 20)),  # only the height changes
    ((100, 300), (20, 100)),  # only the width changes
    ((20, 30), (64, 64)),  # enlarged on both axes
    ((50, 500), (500, 1)),  # one output row
    ((1, 1), (32, 32)),
])
@pytest.mark.parametrize("filt", [LANCZOS, BICUBIC])
def test_matrix_route_equals_pillow_on_pass_orders_and_edge_sizes(matrices_always, shape,
                                                                   size, filt):
    for gray in images(np.random.default_rng(3), *shape):
        np.testing.assert_array_equal(resize(gray, size, filt), pillow(gray, size, filt))


@pytest.mark.parametrize("shape", [(300, 200), (400, 60)])  # horizontal, vertical first
def test_a_near_copy_reuses_the_horizontal_pass_and_still_equals_pillow(matrices_always,
                                                                      monkeypatch, shape):
    rng = np.random.default_rng(5)
    gray = rng.integers(0, 256, shape, dtype=np.uint8)
    near = gray.copy()
    near[40:55, 10:50] = 0
    near[-1] = 7
    changed = np.flatnonzero((gray != near).any(axis=1))
    first = resample.resize_reusing(gray, (32, 32), LANCZOS)
    rows_passed = []
    horizontal = resample._horizontal
    monkeypatch.setattr(resample, "_horizontal",
                        lambda a, axis: rows_passed.append(len(a)) or horizontal(a, axis))
    again = resample.resize_reusing(near, (32, 32), LANCZOS, first, changed)
    np.testing.assert_array_equal(again.pixels, pillow(near, (32, 32), LANCZOS))
    horizontal_first = shape == (300, 200)
    assert (first.rows is not None) == horizontal_first
    assert rows_passed == [changed.size if horizontal_first else 32]
    # another image of another size is resized afresh
    other = rng.integers(0, 256, (shape[0], shape[1] + 1), dtype=np.uint8)
    np.testing.assert_array_equal(
        resample.resize_reusing(other, (32, 32), LANCZOS, first, changed).pixels,
        pillow(other, (32, 32), LANCZOS))


def test_a_photo_sized_image_hashes_as_pillow():
    """The default policy at a real size (1200 x 1600, the matrix route at first sight)."""
    rng = np.random.default_rng(0)
    gray = uniform_filter(rng.integers(0, 256, (1200, 1600), dtype=np.uint8), 9)  # smooth
    assert gray.size >= resample._PIXELS_PER_COEFFICIENT * sum(gray.shape)
    np.testing.assert_array_equal(resize(gray, (32, 32)), pillow(gray, (32, 32), LANCZOS))


def test_small_new_size_goes_to_pillow_once_then_to_the_matrices(monkeypatch):
    monkeypatch.setattr(resample, "_AXES", {})
    monkeypatch.setattr(resample, "_SEEN", set())
    gray = np.random.default_rng(1).integers(0, 256, (60, 70), dtype=np.uint8)
    assert resample._cached_axes(60, 70, 32, 32, LANCZOS) is None  # first sight: Pillow
    rows, columns = resample._cached_axes(60, 70, 32, 32, LANCZOS)  # seen: computed
    assert (rows.first, rows.last) == (0, 60) and columns.groups[-1][1] == 32
    np.testing.assert_array_equal(resize(gray, (32, 32)), pillow(gray, (32, 32), LANCZOS))
    # an axis that keeps its size needs no coefficients
    assert resample._cached_axes(60, 70, 60, 32, LANCZOS)[0] is None


def test_same_size_is_a_copy():
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = resize(gray, (4, 3))
    np.testing.assert_array_equal(out, gray)
    assert not np.shares_memory(out, gray)


@pytest.mark.parametrize("gray, filt, error, match", [
    (np.zeros((4, 4), np.uint16), LANCZOS, ImageError, "uint8"),
    (np.zeros((4, 4, 3), np.uint8), LANCZOS, ImageError, r"\(H, W\)"),
    (np.zeros((4, 4), np.uint8), Image.Resampling.NEAREST, ValueError, "resample"),
])
def test_bad_input_is_refused(gray, filt, error, match):
    with pytest.raises(error, match=match):
        resize(gray, (2, 2), filt)


def test_doctests():
    assert doctest.testmod(resample).failed == 0
