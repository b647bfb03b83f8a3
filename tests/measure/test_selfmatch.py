"""Tests of eda_lib.measure.selfmatch, the blind screen's self-matching: the dense
field, the vote and its groups, and SIFT on dim images. The screen as a whole is
tested in test_screening.py, whose hand-made images these tests share."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from test_screening import SOURCE, jpeg, paste, textured

from eda_lib.geometry import LINEAR_PARTS, TRANSFORMS
from eda_lib.measure import selfmatch
from eda_lib.measure.screening import _merge_tuning
from eda_lib.measure.selfmatch import (
    _FEATURE_SCALE,
    MAX_STRETCH,
    Matches,
    _groups,
    _linear_of,
    _patch_match,
    _pct_features,
    _stretched,
    dense_matches,
    distinct_points,
    sift_matches,
    vote,
)


def _inside(points: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    x1, y1, x2, y2 = box
    return ((points[:, 0] >= x1) & (points[:, 0] <= x2)
            & (points[:, 1] >= y1) & (points[:, 1] <= y2))


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_dense_field_matches_a_copy_under_its_transform(transform):
    image, target = paste(textured(2), transform, gain=1.1, offset=-8)
    m = dense_matches(jpeg(image, 85), _merge_tuning({}))
    forward = _inside(m.p, SOURCE) & _inside(m.q, target)
    backward = _inside(m.p, target) & _inside(m.q, SOURCE)
    # the image (300 px wide) is below dense_native_side, so the field runs at its own
    # size: the copy lies a whole number of pixels from its source, and every transform
    # is found with every seed of the field's random search tried (0-5). Shrunk to
    # 256 px, half-pixel offsets left identity and anti_transpose copies of this texture
    # to one or two seeds of the six.
    assert forward.sum() + backward.sum() >= 10
    lin = LINEAR_PARTS[transform]
    for k in np.flatnonzero(forward | backward):  # every match found names the transform
        quarter = round(m.angle[k] / (np.pi / 2)) % 4
        expected = lin if forward[k] else lin.T  # the inverse of an orthogonal L is L^T
        assert np.array_equal(_linear_of(bool(m.mirror[k]), quarter), expected)


def _field_inputs(work: np.ndarray, params: dict):
    """What :func:`_patch_match` takes for ``work`` as :func:`dense_matches` makes it:
    the (H * W, D) features, phases, the textured points on a grid of 2 px and the
    pool of every textured pixel (flat indices)."""
    feats, std, angle, inv = _pct_features(work, params["dense_radius"])
    h, w = work.shape
    grid = np.zeros((h, w), bool)
    grid[::2, ::2] = True
    textured_px = std >= params["flat_std"]
    pts = np.flatnonzero((textured_px & grid).ravel())
    pool = np.flatnonzero(textured_px.ravel())
    return feats.reshape(h * w, -1), angle, inv, pts, pool


def test_dense_field_compares_whole_numbers():
    """The same feature values give the same field whatever their float type: float
    sums change with precision and with the memory alignment of the arrays, and the
    field with them, from one process to the next (the cache and two runs of the
    report must agree). A field comparing floats differs here in dozens of points."""
    image, _ = paste(textured(2), "rot90", gain=1.1, offset=-8)
    params = _merge_tuning({})
    work = cv2.resize(jpeg(image, 85).astype(np.float32), None, fx=0.8, fy=0.8,
                      interpolation=cv2.INTER_AREA)
    feats, angle, inv, pts, pool = _field_inputs(work, params)
    h, w = work.shape
    single = _patch_match(feats, angle, inv, (h, w), pts, pool, params)
    double = _patch_match(feats.astype(np.float64), angle, inv, (h, w), pts, pool, params)
    assert (single[0] >= 0).sum() > 100
    for a, b in zip(single, double):
        np.testing.assert_array_equal(a, b)


def test_dense_field_is_the_same_in_32_and_64_bits():
    """The window distances run in 32 bits when the pool's features allow it. Features
    that are whole multiples of 1/4096 times 64 give every distance times 4096 exactly,
    the same order and the same ties, but no longer fit 32 bits: the 64-bit path must
    find the same field."""
    image, _ = paste(textured(3), "flip_v", gain=0.9, offset=6)
    params = _merge_tuning({})
    work = jpeg(image, 80).astype(np.float32)
    feats, angle, inv, pts, pool = _field_inputs(work, params)
    h, w = work.shape
    whole = np.round(feats * _FEATURE_SCALE) / _FEATURE_SCALE
    top = np.round(whole[pool] * _FEATURE_SCALE).max()
    assert 9 * top**2 < 2**31 <= 9 * (64 * top) ** 2  # one path each
    narrow = _patch_match(whole, angle, inv, (h, w), pts, pool, params)
    wide = _patch_match(whole * 64, angle, inv, (h, w), pts, pool, params)
    assert (narrow[0] >= 0).sum() > 100
    for a, b in zip(narrow, wide):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("n", [0, 1, 40, 257, 2000])
def test_distinct_points_count_pixels_either_way(n):
    """Points rounding to the same pixel count once, whether counted through a set (a
    cluster's few dozen) or np.unique (more than 256)."""
    rng = np.random.default_rng(n)
    points = rng.integers(0, 30, (n, 2)) + rng.uniform(-0.49, 0.49, (n, 2))
    expected = len(np.unique(np.round(points), axis=0))
    assert distinct_points(points) == expected
    assert n < 257 or expected < n  # the large cases do repeat pixels


@pytest.mark.parametrize("link", [0.5, 3.0, 12.0])
def test_groups_match_connected_components(monkeypatch, link):
    """The direct single-linkage of a cluster's inliers (up to a few dozen points) labels
    the groups as the k-d tree and sparse-graph path does (the one taken above that):
    scattered points, repeated points and a chain that links end to end only through
    every one of its points."""
    rng = np.random.default_rng(int(link * 10))
    chain = np.c_[np.arange(20) * 0.9 * link, np.full(20, 300.0)]
    points = np.concatenate([rng.uniform(0, 40, (30, 2)), rng.uniform(60, 200, (50, 2)),
                             np.repeat(rng.uniform(0, 200, (5, 2)), 2, axis=0), chain])
    points = points[rng.permutation(len(points))]
    monkeypatch.setattr(selfmatch, "_GROUPS_DENSE_MAX", len(points))
    direct = _groups(points, link)
    monkeypatch.setattr(selfmatch, "_GROUPS_DENSE_MAX", 0)
    through_tree = _groups(points, link)
    np.testing.assert_array_equal(direct, through_tree)
    assert 1 < len(np.unique(direct)) < len(points)
    assert len(np.unique(direct[points[:, 1] == 300.0])) == 1  # the chain is one group


def test_vote_keeps_apart_flips_moved_past_the_image_size():
    # two mirrored copies near the right edge of a 200 x 200 image: q = (-x, y) + t with
    # t = (290, 0) and (330, 10), both past the image's own size (a flip's translation
    # reaches up to width + longest side); each must be its own cluster
    rng = np.random.default_rng(0)
    parts = []
    for tx, ty, x0 in ((290, 0, 100), (330, 10, 150)):
        p = np.column_stack([rng.uniform(x0, x0 + 25, 12), rng.uniform(20, 180, 12)])
        parts.append((p, np.column_stack([tx - p[:, 0], p[:, 1] + ty])))
    p, q = (np.concatenate(ends) for ends in zip(*parts))
    n = len(p)
    m = Matches(p=p, q=q, mirror=np.ones(n, bool), pair_id=np.arange(n),
                angle=np.zeros(n), scale=np.ones(n))
    found = [np.round(c.affine[:, 2]).tolist()
             for c in vote(m, (200, 200), _merge_tuning({}))]
    assert [290.0, 0.0] in found and [330.0, 10.0] in found


def test_a_dim_image_keeps_its_keypoints_and_a_bright_one_is_left_as_it_is():
    """SIFT's contrast threshold is absolute: a texture of +-6 gray levels keeps about
    half its keypoints unless it is stretched first."""
    rng = np.random.default_rng(0)
    dim = cv2.GaussianBlur(rng.normal(0, 1, (240, 320)), (0, 0), 1.6)
    dim = np.clip(dim / dim.std() * 6 + 100 + rng.normal(0, 1, dim.shape), 0, 255).astype(np.uint8)
    stretched = sift_matches(dim, _merge_tuning({}))[1]
    plain = sift_matches(dim, _merge_tuning({"sift_span": 0}))[1]
    assert stretched >= 1.5 * plain
    spread = np.percentile(_stretched(dim, 128), [0.5, 99.5])
    assert spread[1] - spread[0] >= 100  # raised towards 128 levels ...
    flat = np.full((50, 50), 90, np.uint8)
    flat[::7] = 91
    assert int(_stretched(flat, 128).max()) - int(_stretched(flat, 128).min()) <= MAX_STRETCH + 1
    bright = textured(0)
    assert _stretched(bright, 128) is bright  # ... and a full-contrast image is left alone
