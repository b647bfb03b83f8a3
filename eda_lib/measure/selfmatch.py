"""Self-matching for the blind screen: one image matched against itself and its mirror.

Steps 2-5 of :mod:`eda_lib.measure.screening`'s algorithm, from a working image to
clusters of matches that one similarity explains (a flip or quarter turn, a scale and
a move); the regions, controls and verdicts are the screen's own. The module
docstring of :mod:`eda_lib.measure.screening` explains each step and holds the
numbers behind the tuning.

- :func:`sift_matches`: SIFT keypoints matched within the image and against its
  mirror (no second detection: a mirrored descriptor is a permutation);
- :func:`block_matches`: the dense block fallback for images with few keypoints;
- :func:`dense_clusters`: the dense field of flip- and rotation-invariant patch
  features, for copies too small or faint to keep their keypoints;
- :func:`vote`: the Hough vote over the eight symmetries and a similarity fit per
  peak, which turns matches into :class:`Cluster` objects.

Every function takes the screen's tuning (``params``, the merged
:data:`~eda_lib.measure.screening.DEFAULT_TUNING`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, replace
from typing import Any

import cv2
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from ..geometry import LINEAR_PARTS, TRANSFORMS, apply_transform, inverse_transform

__all__ = ["Cluster", "Matches", "block_matches", "dense_clusters", "dense_matches",
           "distinct_points", "shrunk", "sift_matches", "vote"]


def shrunk(image: np.ndarray, max_side: int, min_short: int = 0) -> tuple[np.ndarray, float]:
    """``image`` shrunk (``INTER_AREA``) to a longest side of at most ``max_side``, and
    the factor applied (1.0: the image itself); a strip is shrunk less, so that its
    shorter side keeps at least ``min_short`` px (its own, when shorter)."""
    h, w = image.shape[:2]
    f = min(1.0, max(max_side / max(h, w), min_short / min(h, w)))
    if f == 1.0:
        return image, f
    return cv2.resize(image, (max(1, round(w * f)), max(1, round(h * f))),
                      interpolation=cv2.INTER_AREA), f


# --------------------------------------------------------------------------- matches


# SIFT descriptor of the mirror image of a patch: rows of the 4x4 grid reversed,
# orientation bins negated (index (row * 4 + col) * 8 + bin).
_MIRROR = np.array([((3 - r) * 4 + c) * 8 + (-o) % 8
                    for r in range(4) for c in range(4) for o in range(8)])


@dataclass(frozen=True)
class Matches:
    """Directed matches: points p (source) and q (target), hypotheses per match."""

    p: np.ndarray  # (M, 2) float
    q: np.ndarray
    mirror: np.ndarray  # (M,) bool: q holds the mirror image of p's patch
    pair_id: np.ndarray  # (M,) int: a match and its reverse share the id
    angle: np.ndarray | None = None  # (M,) radians of the proposed rotation, or None
    scale: np.ndarray | None = None

    @classmethod
    def empty(cls) -> Matches:
        z = np.zeros((0, 2))
        return cls(z, z, np.zeros(0, bool), np.zeros(0, int))

    @functools.cached_property
    def pixel_keys(self) -> tuple[np.ndarray, np.ndarray]:
        """:func:`_pixel_keys` of ``p`` and of ``q``, made once for every support count."""
        return _pixel_keys(self.p), _pixel_keys(self.q)


def sift_matches(work: np.ndarray, params: dict[str, Any]) -> tuple[Matches, int, str]:
    """Keypoints and their nearest neighbours, self and mirror (step 2 of the algorithm
    in :mod:`eda_lib.measure.screening`)."""
    sift = cv2.SIFT_create(nfeatures=params["max_keypoints"],
                           nOctaveLayers=params["octave_layers"],
                           contrastThreshold=params["contrast_threshold"],
                           edgeThreshold=params["edge_threshold"], sigma=params["sift_sigma"])
    kps, desc = sift.detectAndCompute(_stretched(work, params["sift_span"]), None)
    n = len(kps)
    if n < 2 or desc is None:
        return Matches.empty(), n, "sift"
    # OpenCV's SIFT works from an image doubled in size and reports positions a
    # quarter pixel off the pixel grid: without the correction a flip fits half a
    # pixel wrong, which blurs the agreement map that grows the regions
    pts = np.array([k.pt for k in kps], np.float64) - 0.25
    ang = np.radians(np.array([k.angle for k in kps]))
    size = np.array([k.size for k in kps])
    # RootSIFT: L1-normalized square roots, compared by Euclidean distance (Hellinger)
    desc = np.sqrt(desc.astype(np.float32) / np.maximum(desc.sum(1, keepdims=True), 1e-6))
    desc = np.ascontiguousarray(desc)
    k = min(n, params["neighbours"] + 2)
    max_d2 = params["max_distance"] ** 2
    bg2 = params["background_ratio"] ** 2
    parts = []
    for mirror in (False, True):
        other = np.ascontiguousarray(desc[:, _MIRROR]) if mirror else desc
        d2 = desc @ other.T
        d2 *= -2
        d2 += 2.0  # unit vectors
        idx = np.argpartition(d2, k - 1, axis=1)[:, :k]
        dist2 = np.take_along_axis(d2, idx, 1)
        # the farthest of the k is the background: a true match stands out of it
        background = dist2.max(1, keepdims=True)
        near = dist2 <= np.minimum(max_d2, bg2 * background)
        i = np.repeat(np.arange(n), k)[near.ravel()]
        j = idx.ravel()[near.ravel()]
        shift = np.hypot(*(pts[j] - pts[i]).T)
        ok = shift >= params["min_shift"]
        i, j = i[ok], j[ok]
        if mirror:
            # p reflected (x -> -x) turns its orientation a into pi - a
            rot = ang[j] - (np.pi - ang[i])
        else:
            rot = ang[j] - ang[i]
        parts.append((i, j, np.full(len(i), mirror), rot, size[j] / size[i]))
    i = np.concatenate([q[0] for q in parts])
    j = np.concatenate([q[1] for q in parts])
    mirror = np.concatenate([q[2] for q in parts])
    rot = np.concatenate([q[3] for q in parts])
    scale = np.concatenate([q[4] for q in parts])
    # keep each unordered (i, j, mirror) once, then add its reverse
    key = np.minimum(i, j) * n + np.maximum(i, j) + mirror * n * n
    _, first = np.unique(key, return_index=True)
    i, j, mirror, rot, scale = i[first], j[first], mirror[first], rot[first], scale[first]
    # the reverse of a match with rotation r: -r for a proper, +r for a mirror match
    rev_rot = np.where(mirror, rot, -rot)
    ids = np.arange(len(i))
    return Matches(
        p=np.concatenate([pts[i], pts[j]]), q=np.concatenate([pts[j], pts[i]]),
        mirror=np.concatenate([mirror, mirror]), pair_id=np.concatenate([ids, ids]),
        angle=np.concatenate([rot, rev_rot]), scale=np.concatenate([scale, 1 / scale]),
    ), n, "sift"


def _stretched(work: np.ndarray, span: int) -> np.ndarray:
    """``work`` with its contrast raised, about its middle level, until its 0.5-99.5
    percentiles span at least ``span`` gray levels, by at most :data:`MAX_STRETCH` (0:
    never): SIFT's contrast threshold is absolute, so a dim image keeps fewer keypoints.
    An image spanning ``span`` levels or more is returned as it is."""
    if span <= 0:
        return work
    counts = np.bincount(work.ravel(), minlength=256).cumsum()
    lo = int(np.searchsorted(counts, 0.005 * counts[-1]))
    hi = int(np.searchsorted(counts, 0.995 * counts[-1]))
    gain = min(span / max(hi - lo, 1), MAX_STRETCH)
    if gain <= 1.0:
        return work
    lut = np.clip((np.arange(256) - (lo + hi) / 2) * gain + 128, 0, 255)
    return cv2.LUT(work, np.round(lut).astype(np.uint8))


#: Largest factor :func:`_stretched` raises an image's contrast by (noise grows with it).
MAX_STRETCH = 4.0


def block_matches(work: np.ndarray, params: dict[str, Any]) -> tuple[Matches, int, str]:
    """Dense fallback: blocks matched under the eight symmetries.

    On a copy of the image with the longest side at most ``block_max_side``, every
    ``block_side`` square block (stride a quarter of its side) with local contrast is
    described by the mean and spread of its concentric square rings, normalized by the
    block's own mean and spread: invariant under the eight flips and rotations and a
    brightness or contrast change. Blocks are matched to their nearest neighbours in
    that space; each match is then tested under the eight transforms (NCC of the
    pixels) and kept with its best transform when that NCC reaches 0.9, which gives
    the one-point hypothesis the geometry needs.
    """
    g, f = shrunk(work.astype(np.float32), params["block_max_side"])
    side = params["block_side"]
    step = max(1, side // 4)
    gh, gw = g.shape
    if gh < side + step or gw < side + step:
        return Matches.empty(), 0, "blocks"
    ys, xs = np.mgrid[0 : gh - side + 1 : step, 0 : gw - side + 1 : step]
    ys, xs = ys.ravel(), xs.ravel()
    blocks = np.lib.stride_tricks.sliding_window_view(g, (side, side))[ys, xs]
    flat = blocks.reshape(len(blocks), -1)
    mu, sd = flat.mean(1), flat.std(1)
    keep = sd >= 2 * params["flat_std"]
    if keep.sum() < 2:
        return Matches.empty(), int(keep.sum()), "blocks"
    blocks, mu, sd = blocks[keep], mu[keep], sd[keep]
    ys, xs = ys[keep], xs[keep]
    norm = (blocks - mu[:, None, None]) / sd[:, None, None]
    c = (side - 1) / 2
    yy, xx = np.mgrid[:side, :side]
    ring = np.floor(np.maximum(np.abs(yy - c), np.abs(xx - c))).astype(int)
    feats = []
    for r in np.unique(ring):
        vals = norm[:, ring == r]
        feats += [vals.mean(1), vals.std(1)]
    feats = np.stack(feats, axis=1)
    tree = cKDTree(feats)
    k = min(5, len(feats))
    _, idx = tree.query(feats, k=k)
    i = np.repeat(np.arange(len(feats)), k)
    j = idx.ravel()
    pts = np.stack([xs + c, ys + c], axis=1).astype(float)
    far = np.hypot(*(pts[i] - pts[j]).T) >= max(side, params["min_shift"] * f)
    i, j = i[far], j[far]
    lo, hi = np.minimum(i, j), np.maximum(i, j)
    _, first = np.unique(lo * len(feats) + hi, return_index=True)
    i, j = lo[first], hi[first]
    if len(i) == 0:
        return Matches.empty(), len(feats), "blocks"
    # the best of the eight transforms per match: NCC of the normalized pixels
    a = norm[i].reshape(len(i), -1)
    scores = np.stack([
        (a * np.ascontiguousarray(apply_transform(norm[j].transpose(1, 2, 0),
                                                  inverse_transform(name))
                                  ).transpose(2, 0, 1).reshape(len(j), -1)).mean(1)
        for name in TRANSFORMS
    ], axis=1)
    best = scores.argmax(1)
    top = scores[np.arange(len(i)), best]
    good = np.flatnonzero(top >= 0.9)
    good = good[np.argsort(-top[good], kind="stable")[: params["max_block_matches"]]]
    i, j, best = i[good], j[good], best[good]
    names = list(TRANSFORMS)
    mirror = np.array([np.linalg.det(LINEAR_PARTS[names[b]]) < 0 for b in best], bool)
    angle = np.array([_angle_of(LINEAR_PARTS[names[b]]) for b in best])
    ids = np.arange(len(i))
    pts = pts / f
    return Matches(
        p=np.concatenate([pts[i], pts[j]]), q=np.concatenate([pts[j], pts[i]]),
        mirror=np.concatenate([mirror, mirror]), pair_id=np.concatenate([ids, ids]),
        angle=np.concatenate([angle, np.where(mirror, angle, -angle)]),
        scale=np.ones(2 * len(i)),
    ), len(feats), "blocks"


def _angle_of(linear: np.ndarray) -> float:
    """Rotation angle of a linear part, after undoing the reflection x -> -x if any."""
    m = linear @ np.diag([-1.0, 1.0]) if np.linalg.det(linear) < 0 else linear
    return math.atan2(m[1, 0], m[0, 0])


# --------------------------------------------------------------------------- dense field

# (radial order n, angular order m) of the polar cosine kernels
_PCT_ORDERS = ((1, 0), (2, 0), (0, 1), (1, 1), (0, 2), (1, 2), (0, 3), (1, 3), (0, 4))


@functools.lru_cache(maxsize=8)
def _pct_kernels(radius: int) -> tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray | None]]]:
    """The disk of ``radius`` px and the polar cosine kernels on it.

    Kernel ``(n, m)`` is ``cos(pi n r^2) exp(i m theta)`` on the unit disk (``r`` scaled
    so the disk holds the pixels within ``radius + 0.5``), as its real and imaginary
    parts; ``m == 0`` kernels are real and made zero-mean, so a brightness offset
    drops out. The centre pixel has no angle and stays out of the ``m > 0`` kernels,
    which makes the response magnitudes exactly invariant under the eight symmetries
    of the pixel grid.
    """
    side = 2 * radius + 1
    yy, xx = np.mgrid[:side, :side].astype(np.float64) - radius
    r = np.hypot(xx, yy) / (radius + 0.5)
    theta = np.arctan2(yy, xx)
    disk = r <= 1
    ring = disk & (r > 0)
    kernels: list[tuple[np.ndarray, np.ndarray | None]] = []
    for n, m in _PCT_ORDERS:
        radial = np.cos(np.pi * n * r * r)
        if m == 0:
            k = (radial - radial[disk].mean()) * disk
            kernels.append((k.astype(np.float32), None))
        else:
            kernels.append(((radial * np.cos(m * theta) * ring).astype(np.float32),
                            (radial * np.sin(m * theta) * ring).astype(np.float32)))
    return disk.astype(np.float32), kernels


def _pct_features(g: np.ndarray, radius: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-pixel polar cosine magnitudes and the phases that tell the transform apart.

    Returns the (H, W, D) magnitudes divided by the disk's standard deviation
    (invariant under the eight symmetries, a brightness offset and a gain), that
    standard deviation, the angle of the ``(0, 1)`` response (it turns by ``alpha``
    when the patch turns by ``alpha``) and two unit invariants of rotation that a
    reflection conjugates, ``z2 conj(z1)^2`` and ``z3 conj(z1)^3``, flattened.
    """
    disk, kernels = _pct_kernels(radius)
    area = float(disk.sum())
    mean = cv2.filter2D(g, -1, disk / area, borderType=cv2.BORDER_REFLECT)
    sq = cv2.filter2D(g * g, -1, disk / area, borderType=cv2.BORDER_REFLECT)
    std = np.sqrt(np.maximum(sq - mean * mean, 0))
    mags, waves = [], []
    for re, im in kernels:
        a = cv2.filter2D(g, -1, re, borderType=cv2.BORDER_REFLECT)
        if im is None:
            mags.append(np.abs(a))
        else:
            b = cv2.filter2D(g, -1, im, borderType=cv2.BORDER_REFLECT)
            mags.append(cv2.magnitude(a, b))
            waves.append(a + 1j * b)
    feats = np.stack(mags, axis=-1) / (std[..., None] * area + 1e-3)
    z1, z2, z3 = waves[0], waves[2], waves[4]  # (0, 1), (0, 2), (0, 3)
    inv = np.stack([z2 * np.conj(z1) ** 2, z3 * np.conj(z1) ** 3], axis=-1).reshape(-1, 2)
    inv /= np.abs(inv) + 1e-9
    return feats, std, np.angle(z1).ravel(), inv


#: Patch features are compared as whole numbers, in units of 1 / this.
_FEATURE_SCALE = 4096

# the linear part of every transform class c = quarter + 4 * mirror (see _linear_of)
_CLASS_LINEAR = np.array([[[1, 0], [0, 1]], [[0, -1], [1, 0]], [[-1, 0], [0, -1]],
                          [[0, 1], [-1, 0]], [[-1, 0], [0, 1]], [[0, -1], [-1, 0]],
                          [[1, 0], [0, -1]], [[0, 1], [1, 0]]], np.int64)


def _phase_class(angle: np.ndarray, inv: np.ndarray, p: np.ndarray, q: np.ndarray
                 ) -> np.ndarray:
    """Transform class (quarter + 4 * mirror) of the matches p -> q (flat indices).

    A reflection conjugates the rotation invariants: they agree with those of the
    other end either as they are (a proper match) or conjugated (a mirror match).
    The angle of the first-order response then gives the rotation, snapped to a
    quarter turn.
    """
    proper = (inv[q] * np.conj(inv[p])).real.sum(1)
    mirror = (inv[q] * inv[p]).real.sum(1) > proper
    alpha = np.where(mirror, angle[q] + angle[p] - np.pi, angle[q] - angle[p])
    return np.round(alpha / (np.pi / 2)).astype(np.int64) % 4 + 4 * mirror


def dense_matches(work: np.ndarray, params: dict[str, Any]) -> Matches:
    """Dense-field matches: a nearest-neighbour field of invariant patch features.

    On the working image when its longest side is at most ``dense_native_side``,
    else on a copy with the longest side at most ``dense_max_side``, every
    pixel is described by the magnitudes of polar cosine responses on a disk of
    ``dense_radius`` px (:func:`_pct_features`). Points with local contrast on a grid
    of step ``dense_stride`` look for their nearest neighbour at least
    ``dense_min_offset`` px away (:func:`_patch_match`). The field is then
    regularized: each point takes the transform class that puts the most of its 4
    grid neighbours' matches where the class predicts them (within 1 px), and is
    kept when at least 3 agree, in a connected group of at least
    ``dense_min_points`` such points: copied content agrees over an area, chance
    look-alikes do not. A group gives at most about ``dense_group_points`` evenly
    spread matches (the vote needs a few dozen, not hundreds), one direction per
    match.
    """
    side = (max(work.shape) if max(work.shape) <= params["dense_native_side"]
            else params["dense_max_side"])
    g, f = shrunk(work.astype(np.float32), side)
    radius, step = params["dense_radius"], params["dense_stride"]
    gh, gw = g.shape
    if min(gh, gw) < 4 * radius + 2 * step:
        return Matches.empty()
    feats, std, angle, inv = _pct_features(g, radius)
    feats = feats.reshape(gh * gw, -1)
    textured = std >= params["flat_std"]
    grid = np.zeros_like(textured)
    grid[::step, ::step] = True
    pts = np.flatnonzero((textured & grid).ravel())
    if len(pts) < params["dense_min_points"]:
        return Matches.empty()
    best, _ = _patch_match(feats, angle, inv, (gh, gw), pts,
                             np.flatnonzero(textured.ravel()), params)
    # consistency: for each of the eight classes, the grid neighbours whose matches
    # lie where that class puts them (within 1 px); a point takes its best class
    field = np.full(gh * gw, -1, np.int64)
    field[pts] = best
    py, px = pts // gw, pts % gw
    by, bx = best // gw, best % gw
    votes = np.zeros((8, len(pts)), np.int64)
    for dy, dx in ((0, step), (0, -step), (step, 0), (-step, 0)):
        ny, nx = py + dy, px + dx
        inside = (ny >= 0) & (ny < gh) & (nx >= 0) & (nx < gw)
        qn = np.where(inside, np.take(field, np.where(inside, ny * gw + nx, 0)), -1)
        qy, qx = qn // gw - by, qn % gw - bx
        for c, lin in enumerate(_CLASS_LINEAR):
            votes[c] += ((qn >= 0) & (np.abs(qy - lin[1, 0] * dx - lin[1, 1] * dy) <= 1)
                         & (np.abs(qx - lin[0, 0] * dx - lin[0, 1] * dy) <= 1))
    cls = votes.argmax(0)
    i = np.flatnonzero((best >= 0) & (votes[cls, np.arange(len(pts))] >= 3))
    # grid points step px apart are one group: close the gaps, then count points
    keep_map = np.zeros((gh, gw), np.uint8)
    keep_map[py[i], px[i]] = 1
    joined = cv2.dilate(keep_map, np.ones((step, step), np.uint8), anchor=(0, 0))
    n_groups, labels = cv2.connectedComponents(joined, connectivity=8)
    group = labels[py[i], px[i]]
    size = np.bincount(group, minlength=n_groups)
    big = size[group] >= params["dense_min_points"]
    i, group = i[big], group[big]
    if len(i) == 0:
        return Matches.empty()
    # a large group says no more than a few dozen of its points: keep every k-th
    order = np.argsort(group, kind="stable")
    i, group = i[order], group[order]
    first = np.searchsorted(group, group)
    every = np.maximum(1, -(-size[group] // params["dense_group_points"]))
    i = i[(np.arange(len(i)) - first) % every == 0]
    # one direction per pair of regions: points of both regions found each other,
    # and a flip's reverse proposes nearly the same translation when the copy sits
    # across the flip's axis from its source, which would blur the fit. Of p -> q
    # and q -> p keep the one whose translation comes first (lexicographically).
    p = np.stack([px[i], py[i]], axis=1)
    q = np.stack([bx[i], by[i]], axis=1)
    c = cls[i]
    lin = _CLASS_LINEAR[c]
    t = q - np.einsum("nij,nj->ni", lin, p)
    back = p - np.einsum("nji,nj->ni", lin, q)  # the inverse's linear part is L^T
    swap = (back[:, 0] < t[:, 0]) | ((back[:, 0] == t[:, 0]) & (back[:, 1] < t[:, 1]))
    p, q = np.where(swap[:, None], q, p), np.where(swap[:, None], p, q)
    # the inverse of a proper rotation turns back; a reflection is its own inverse
    c = np.where(swap & (c < 4), (4 - c) % 4, c)
    return Matches(p=p / f, q=q / f, mirror=c >= 4, pair_id=np.arange(len(i)),
                    angle=(c % 4) * (np.pi / 2), scale=np.ones(len(i)))


def _patch_match(feats: np.ndarray, angle: np.ndarray, inv: np.ndarray,
                 shape: tuple[int, int], pts: np.ndarray, pool: np.ndarray,
                 params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Nearest neighbours of the grid points ``pts`` among all pixels, at least
    ``dense_min_offset`` away (flat indices), and their transform classes.

    Seeds: for each of ``dense_projections`` random projections of the features,
    the ``pool`` (every pixel with contrast) is sorted by it and every pixel compares
    itself with the ``dense_window`` pixels either side (contiguous slices of the
    sorted features, no gathers); a point takes its best valid one, then the best of
    the 8 pixels around it. Then ``dense_rounds`` rounds of propagation (a grid
    neighbour's match, moved as the neighbour's transform class moves the step;
    steps of 4, 2 and then 1 grid step), one random and one local (+-1 px)
    candidate, vectorized over the points (Jacobi-style rounds, not a raster scan).
    The class of a match found by search is read from the phases
    (:func:`_phase_class`), a propagated one inherits the neighbour's. Unmatched
    points have match -1.
    """
    gh, gw = shape
    rng = np.random.default_rng(0)
    n = len(pts)
    # whole numbers: sums of integers do not depend on the order they are added in
    # (float sums do, with the memory alignment of the arrays), so the field, and the
    # screen, come out the same in every process
    feats = np.round(feats * _FEATURE_SCALE).astype(np.int64)
    never = np.iinfo(np.int64).max
    py, px = (pts // gw).astype(np.int32), (pts % gw).astype(np.int32)
    own = np.take(feats, pts, axis=0)
    cost = np.full(n, never, np.int64)
    best = np.full(n, -1, np.int32)
    cls = np.zeros(n, np.int32)
    min2 = params["dense_min_offset"] ** 2

    def consider(cy: np.ndarray, cx: np.ndarray, cand_cls: np.ndarray | None) -> np.ndarray:
        """Keep the candidates (cy, cx) that beat the current match; their indices."""
        valid = (cy >= 0) & (cy < gh) & (cx >= 0) & (cx < gw)
        ry, rx = cy - py, cx - px
        valid &= ry * ry + rx * rx >= min2
        c = np.where(valid, cy * gw + cx, 0)
        diff = np.take(feats, c, axis=0)  # np.take: much faster than feats[c]
        diff -= own
        d = np.einsum("ij,ij->i", diff, diff)
        better = np.flatnonzero(valid & (d < cost))
        cost[better] = d[better]
        best[better] = c[better]
        if cand_cls is not None:
            cls[better] = cand_cls[better]
        return better

    dirs = np.round(rng.standard_normal((feats.shape[1], params["dense_projections"]))
                    * 256).astype(np.int64)
    pool_feats = np.take(feats, pool, axis=0)
    proj = pool_feats @ dirs
    # 16-bit levels sort by radix, several times faster than floats
    lo, hi = proj.min(0), proj.max(0)
    levels = ((proj - lo) * (65535 / np.maximum(hi - lo, 1e-9))).astype(np.uint16)
    # the window distances, feature by feature over contiguous rows (3-4x faster than
    # over (m, D) rows), in 32 bits when no sum of squares can reach 2^31: the pool's
    # features are contrast-normalized, a few thousand at most, so this is the rule;
    # the result is the same whole number either way
    top = int(pool_feats.max(initial=0)) - int(pool_feats.min(initial=0))
    wide = feats.shape[1] * top * top >= np.iinfo(np.int32).max
    dtype = np.int64 if wide else np.int32
    far = np.iinfo(dtype).max  # no pair, and no neighbour yet
    pool_cols = np.ascontiguousarray(pool_feats.T, dtype=dtype)
    m = len(pool)
    at = np.searchsorted(pool, pts)  # every point is in the pool
    rank = np.empty(m, np.int64)
    window = min(params["dense_window"], m - 1)
    part, term = np.empty(m, dtype), np.empty(m, dtype)
    for k in range(dirs.shape[1]):
        order = np.argsort(levels[:, k], kind="stable")
        rank[order] = np.arange(m)
        cols = np.take(pool_cols, order, axis=1)
        spool = np.take(pool, order)
        sy, sx = (spool // gw).astype(np.int32), (spool % gw).astype(np.int32)
        near_d = np.full(m, far, dtype)
        near = np.full(m, -1, np.int64)  # the sorted position of the best neighbour
        for o in range(1, window + 1):
            d, t = part[: m - o], term[: m - o]
            np.subtract(cols[0, o:], cols[0, :-o], out=d)
            np.multiply(d, d, out=d)
            for col in cols[1:]:
                np.subtract(col[o:], col[:-o], out=t)
                np.multiply(t, t, out=t)
                d += t
            ry, rx = sy[o:] - sy[:-o], sx[o:] - sx[:-o]
            d[ry * ry + rx * rx < min2] = far
            # the pair (r, r + o) is a candidate for both ends: r's neighbour is
            # r + o, and r + o's is r
            for mine, shift in ((slice(None, -o), o), (slice(o, None), 0)):
                up = np.flatnonzero(d < near_d[mine])
                near_d[mine][up] = d[up]
                near[mine][up] = up + shift
        pick = np.take(near, np.take(rank, at))
        c = np.where(pick >= 0, np.take(spool, pick), -1)
        consider(np.where(pick >= 0, c // gw, -1), c % gw, None)
    # the match may lie a pixel off the compared one (resampling, a flip's parity)
    matched = best >= 0
    by, bx = best // gw, best % gw
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy or dx:
                consider(np.where(matched, by + dy, -1), bx + dx, None)
    found = np.flatnonzero(best >= 0)
    cls[found] = _phase_class(angle, inv, pts[found], best[found])
    field = np.full(gh * gw, -1, np.int32)
    field_cls = np.zeros(gh * gw, np.int32)
    step = params["dense_stride"]
    for k in (step * 2 ** max(0, 2 - i) for i in range(params["dense_rounds"])):
        field[pts], field_cls[pts] = best, cls
        for dy, dx in ((0, k), (0, -k), (k, 0), (-k, 0)):
            move_x = (_CLASS_LINEAR[:, 0, 0] * dx + _CLASS_LINEAR[:, 0, 1] * dy).astype(np.int32)
            move_y = (_CLASS_LINEAR[:, 1, 0] * dx + _CLASS_LINEAR[:, 1, 1] * dy).astype(np.int32)
            ny, nx = py - dy, px - dx
            inside = (ny >= 0) & (ny < gh) & (nx >= 0) & (nx < gw)
            nb = np.where(inside, ny * gw + nx, 0)
            qn, cn = np.take(field, nb), np.take(field_cls, nb)
            cy = np.where(inside & (qn >= 0), qn // gw + np.take(move_y, cn), -1)
            consider(cy, qn % gw + np.take(move_x, cn), cn)
        c = rng.integers(0, gh * gw, n, dtype=np.int32)
        new = consider(c // gw, c % gw, None)
        cls[new] = _phase_class(angle, inv, pts[new], best[new])
        matched = best >= 0
        jitter = rng.integers(-1, 2, (2, n), dtype=np.int32)
        consider(np.where(matched, best // gw + jitter[0], -1), best % gw + jitter[1],
                 cls.copy())
    return best.astype(np.int64), cls.astype(np.int64)


# --------------------------------------------------------------------------- the vote


@dataclass
class Cluster:
    """Matches that one similarity explains: ``q = affine @ (p, 1)``, in working px."""

    affine: np.ndarray  # 2x3, source -> target, working px (reflection included)
    p: np.ndarray  # inlier points
    q: np.ndarray
    mirror: bool
    method: str = ""  # "dense" when found by the dense field, else the image's method


def _linear_of(mirror: bool, quarter: int) -> np.ndarray:
    """q = L p: a rotation by quarter * 90 degrees, after x -> -x for a mirror match."""
    c, s = [(1, 0), (0, 1), (-1, 0), (0, -1)][quarter % 4]
    rot = np.array([[c, -s], [s, c]], float)
    return rot @ np.diag([-1.0, 1.0]) if mirror else rot


def vote(m: Matches, shape: tuple[int, int], params: dict[str, Any]) -> list[Cluster]:
    """Hough vote over the eight symmetries, then a similarity fit per peak.

    Each match's orientation difference names one of the eight transforms (rotation
    snapped to a quarter turn within ``snap_degrees``, its parity from the match);
    matches of one transform vote for the translation ``q - L p`` in bins of
    ``hough_bin`` working pixels (a scaled copy smears over neighbouring bins, which
    the 3 x 3 sum of the accumulator collects). Each peak's matches seed a fit of
    ``q = s L p + t`` (scale and translation, least squares, twice trimmed to
    ``inlier_px``) over all matches of its transform; inliers split into spatially
    connected groups, each with at least ``min_inliers`` distinct matches a cluster.
    """
    out: list[Cluster] = []
    if len(m.p) < params["min_inliers"] or m.angle is None:
        return out
    quarter_f = m.angle / (np.pi / 2)
    quarter = np.round(quarter_f).astype(int) % 4
    off = np.abs(quarter_f - np.round(quarter_f)) * 90.0
    ok = off <= params["snap_degrees"]
    if m.scale is not None:
        ok &= (m.scale >= 1 / params["max_scale"]) & (m.scale <= params["max_scale"])
    cls = np.where(ok, quarter + 4 * m.mirror, -1)
    # continuous texture matches itself a little further on everywhere: short
    # unflipped moves would fill the vote's strongest peaks with such clusters
    short = (cls == 0) & (np.hypot(*(m.q - m.p).T) < params["min_move"])
    cls[short] = -1
    ok &= ~short
    h, w = shape
    b = params["hough_bin"]
    # q - L p spans [-side, w + side] x [-side, h + side] over the eight transforms
    # (a flip's or a quarter turn's translation reaches past the image's own size)
    side = max(h, w)
    nx, ny = int((w + 2 * side) / b) + 3, int((h + 2 * side) / b) + 3
    thr = params["inlier_px"]
    link = params["group_link"] * max(shape)
    alive = ok.copy()
    peaks = []
    lin = {c: _linear_of(c >= 4, c % 4) for c in range(8)}
    d = np.zeros_like(m.q)
    for c in range(8):
        sel = cls == c
        d[sel] = m.q[sel] - m.p[sel] @ lin[c].T
    bx = np.clip(((d[:, 0] + side) / b).astype(int) + 1, 0, nx - 1)
    by = np.clip(((d[:, 1] + side) / b).astype(int) + 1, 0, ny - 1)
    for c in range(8):
        sel = np.flatnonzero(cls == c)
        if len(sel) < params["min_inliers"]:
            continue
        # votes of distinct source points per bin, summed over 2 x 2 bins (a peak
        # split by a bin edge still counts whole); peaks are local maxima of that
        key = by[sel] * nx + bx[sel]
        r = np.round(m.p[sel]).astype(np.int64)
        _, first = np.unique(key * 4_000_003 + r[:, 0] * 2003 + r[:, 1], return_index=True)
        acc = np.bincount(key[first], minlength=nx * ny).reshape(ny, nx).astype(np.float32)
        acc = cv2.boxFilter(acc, -1, (2, 2), anchor=(0, 0), normalize=False,
                            borderType=cv2.BORDER_CONSTANT)
        top = (acc >= params["min_inliers"]) & (acc >= cv2.dilate(acc, np.ones((3, 3))))
        for v in np.flatnonzero(top.ravel()):
            peaks.append((float(acc.ravel()[v]), c, v // nx, v % nx))
    peaks.sort(key=lambda t: -t[0])
    for _, c, py, px in peaks[: params["max_peaks"]]:
        sel = np.flatnonzero(alive & (cls == c))
        near = sel[(by[sel] - py >= -1) & (by[sel] - py <= 2)
                   & (bx[sel] - px >= -1) & (bx[sel] - px <= 2)]
        if _support(m, near) < params["min_inliers"]:
            continue  # one keypoint matching several, or used up by an earlier fit
        fit = _fit_similarity(m, lin[c], near, sel, thr, params)
        if fit is None:
            continue
        affine, used = fit
        alive[np.isin(m.pair_id, m.pair_id[used])] = False
        groups = _groups(m.q[used], link)
        for g in np.unique(groups):
            members = used[groups == g]
            if _support(m, members) < params["min_inliers"]:
                continue
            out.append(Cluster(affine, m.p[members], m.q[members], c >= 4))
    # clusters whose two ends overlap (continuous texture matching itself nearby,
    # periodic patterns) last, then the best supported first
    return sorted(out, key=lambda k: (_overlapping(k), -distinct_points(k.q))
                  )[: params["max_clusters"]]


def dense_clusters(work: np.ndarray, params: dict[str, Any]) -> list[Cluster]:
    """Clusters of the dense-field matches (:func:`dense_matches`), by the same vote."""
    clusters = vote(dense_matches(work, params), work.shape, params)
    return [replace(c, method="dense") for c in clusters]


def _overlapping(c: Cluster) -> bool:
    """Whether the inliers' two ends are closer than the inliers' own spread."""
    shift = float(np.hypot(*(c.q.mean(0) - c.p.mean(0))))
    spread = float(np.hypot(*(c.p.max(0) - c.p.min(0))))
    return shift < spread


def _pixel_keys(points: np.ndarray) -> np.ndarray:
    """One whole number per point, equal for points that round to the same pixel."""
    r = np.round(points).astype(np.int64)
    return r[:, 0] * 100003 + r[:, 1]


def _count_distinct(keys: np.ndarray) -> int:
    # a set is several times quicker than np.unique on the few dozen keys of a cluster
    return len(set(keys.tolist())) if len(keys) <= 256 else len(np.unique(keys))


def distinct_points(points: np.ndarray) -> int:
    """Number of distinct points, rounded to whole pixels."""
    return _count_distinct(_pixel_keys(points))


def _support(m: Matches, idx: np.ndarray) -> int:
    """Distinct keypoints at the weaker end of the matches ``idx``."""
    kp, kq = m.pixel_keys
    return min(_count_distinct(kp[idx]), _count_distinct(kq[idx]))


def _fit_similarity(m: Matches, lin: np.ndarray, seed: np.ndarray, pool: np.ndarray,
                    thr: float, params: dict[str, Any]) -> tuple[np.ndarray, np.ndarray] | None:
    """Fit q = s L p + t from the ``seed`` matches over the ``pool``; None if none fits.

    The seed's median translation at scale 1 gathers the pool's matches within
    ``2 * thr`` plus a quarter of their distance from the seed's centre (a scale up
    to 1.25 either way); scale and translation are then fitted by least squares and
    the inliers trimmed to ``4 thr``, ``2 thr`` and ``thr``.
    """
    s, t = 1.0, np.median(m.q[seed] - m.p[seed] @ lin.T, axis=0)
    centre = np.median(m.p[seed], axis=0)
    far = np.hypot(*(m.p[pool] - centre).T)
    lp_pool = m.p[pool] @ lin.T
    err = np.hypot(*(lp_pool + t - m.q[pool]).T)
    idx = pool[err <= np.maximum(2 * thr, 0.25 * far)]
    for tol in (4 * thr, 2 * thr, thr):
        if _support(m, idx) < params["min_inliers"]:
            return None
        lp = m.p[idx] @ lin.T
        lc, qc = lp - lp.mean(0), m.q[idx] - m.q[idx].mean(0)
        den = float((lc * lc).sum())
        # the scale needs spread points; a tight cluster keeps the keypoints' own
        s = float((lc * qc).sum() / den) if den >= 100.0 * len(idx) else float(
            np.median(m.scale[idx])) if m.scale is not None else 1.0
        if not (1 / params["max_scale"] <= s <= params["max_scale"]):
            return None
        t = m.q[idx].mean(0) - s * lp.mean(0)
        err = np.hypot(*(lp_pool * s + t - m.q[pool]).T)
        idx = pool[err <= tol]
    if _support(m, idx) < params["min_inliers"]:
        return None
    return np.hstack([s * lin, t[:, None]]), idx


#: Above this many points :func:`_groups` links them through a k-d tree.
_GROUPS_DENSE_MAX = 64


def _groups(points: np.ndarray, link: float) -> np.ndarray:
    """Labels of single-linkage groups of points at distance ``link``."""
    n = len(points)
    if n < 2:
        return np.zeros(n, int)
    if n > _GROUPS_DENSE_MAX:
        pairs = cKDTree(points).query_pairs(link, output_type="ndarray")
        graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
        return connected_components(graph, directed=False)[1]
    # a cluster's few dozen inliers: every distance at once, then each point takes the
    # least label among its neighbours, then that label's own label (so a chain of
    # points needs a few rounds, not one per link); a group ends up labelled by its
    # first point, and the labels come in the order of the groups' first points
    d = points[:, None, :] - points[None, :, :]
    linked = np.einsum("ijk,ijk->ij", d, d) <= link * link
    label = np.arange(n)
    while True:
        reach = np.where(linked, label[None, :], n).min(1)
        reach = reach[reach]
        if np.array_equal(reach, label):
            break
        label = reach
    return np.unique(label, return_inverse=True)[1]

