"""Blind copy-move screen: duplicated regions inside one image, without mask or twin.

:mod:`eda_lib.measure.copymove` explains a copy somebody marked. Most images have no
mask and no authentic twin (test images, authentic images that may hide an unlabelled
duplication, an analyst's folder of figures); :func:`screen_image` looks for
duplicated regions in such an image by itself, classically (no weights), and returns
each candidate pair with the dense scores of copymove and a verdict.

Algorithm (all of it on the gray image):

1. *Working resolution.* The image is shrunk (``INTER_AREA``) so that its longest side
   is at most ``max_side``; keypoints, clustering, region growing and the false-positive
   controls run there, so the cost is linear in pixels and bounded per image.
2. *Keypoints.* SIFT (``cv2.SIFT_create``, at most ``max_keypoints``). Mirror images need
   no second detection: the descriptor of the mirrored patch around a keypoint is the
   keypoint's own descriptor with its 4x4 spatial rows reversed and its 8 orientation
   bins negated (checked on OpenCV 4/5 output), so matching every descriptor against
   every mirrored descriptor finds flipped copies. SIFT is rotation and scale
   invariant, which covers the other transforms.
3. *Matching.* Brute force (one matrix product) within the image, self and mirror;
   a keypoint keeps its nearest neighbours while the generalized 2-NN ratio test
   holds (``ratio``), and matches closer than ``min_shift`` working pixels are dropped
   (a keypoint and itself, the same corner found twice, a symmetric blob matching its
   own mirror image).
4. *Geometry.* Sequential one-point RANSAC: every match proposes a similarity from its
   keypoints' positions, orientations and sizes (with a reflection for mirror
   matches); the hypothesis with most inliers is refitted by least squares
   (``cv2.estimateAffinePartial2D``), its inliers (and their reversed duplicates)
   are removed and the search repeats, up to ``max_clusters`` times. The inliers are
   split into spatially connected groups; a group with at least ``min_inliers``
   matches is a candidate. The fitted rotation is snapped to the nearest of the eight
   :data:`~eda_lib.geometry.TRANSFORMS` (within ``snap_degrees``; otherwise the pair is
   kept as ``unsure``, reason ``free_rotation``) and a scale within ``scale_snap`` of 1
   becomes exactly 1.
5. *Dense fallback.* With fewer than ``fallback_keypoints`` keypoints (smooth
   micrographs, small images), blocks on a coarse grid are described by quantities
   invariant under the eight symmetries (mean and spread of concentric square rings,
   normalized for brightness and contrast), matched by nearest neighbours and fed to
   the same geometry with both parities tried.
6. *Regions.* The source content is warped onto the target by the fitted transform;
   the target region is the connected area of textured pixels where the two agree
   (after a gain and offset fit), grown from the inliers' hull, holes filled. The
   source region is its image under the inverse transform.
7. *Verification.* Each pair is scored at full resolution by
   :func:`eda_lib.measure.copymove.verify_pairs`, the code that verifies a pair marked by
   a mask: ``ncc``, ``residual_ncc``, ``identical_frac``, ``texture``, ``margin`` (best
   transform over the runner-up at the source's place) and its transform and scale.

False-positive controls (``periodic`` and ``too_close`` first when the two regions
overlap, then ``scale_bar``, ``text``, ``flat``, ``periodic``); each names the ``reason`` of a
``rejected`` pair (the thresholds are tuning keys):

``periodic``
    The surroundings agree as well: a ring around the target region (as wide as
    ``ring_frac`` of its size) matches the ring mapped from the source with NCC of at
    least ``periodic_ncc`` (0.75). Gel lanes, grids and regular textures repeat beyond
    any region, whereas a pasted copy sits in surroundings unrelated to its source's.
    Checked before ``too_close`` when the regions overlap: on a repeating pattern
    the agreement map spreads over the whole pattern.
``too_close``
    The two regions overlap by more than ``max_overlap`` (0.2) of the smaller, or
    their centres are less than ``min_shift_frac`` (0.3) of the region's size apart:
    a region matching a slightly shifted self is continuous texture, not a move.
``scale_bar``
    The region is mostly background (at least ``background_share``, 0.45, of its
    pixels within 6 levels of its commonest flat level, and flat or beside "ink" 40
    levels off it) and the rest is one elongated (aspect >= 3), nearly rectangular
    (fill >= 0.8) bar: scale bars are drawn identically in many panels.
``text``
    Mostly background as above, and either two-level (background plus one ink level,
    +-10, hold ``two_level_share``, 0.75, of the region) or thin strokes (an erosion
    by ``stroke_px`` x ``stroke_px``, 3, removes ``stroke_removed``, 60 %, of the
    foreground). Repeated glyphs, panel letters, tick labels and chart markers.
``flat``
    Less than ``textured_share`` (0.3) of the region has local contrast (standard
    deviation over 5x5 of at least ``flat_std``, 2.5 gray levels): white gutters,
    uniform or clipped backgrounds and panel borders agree with anything. Copymove's
    own ``texture < TEXTURE_MIN`` (too few texture-bearing pixels at full
    resolution) also gives ``flat``.

A pair that passes the controls is a ``copy`` when ``ncc >= copy_ncc`` and
``residual_ncc >= copy_residual_ncc`` (the noise residual is carried along by a copy,
and even after JPEG compression it stays correlated; two look-alike regions of
different origin have independent noise), else ``unsure`` with reason
``weak_match``. ``identical_frac`` is reported but not used: recompression and added
noise destroy pixel identity.

Which region is the source cannot be known without a twin: ``roles`` is
``"undecided"``, ``source`` and ``target`` are only the two ends of the transform
(``target = transform(source)`` resized by ``scale``).

Numbers (``benchmarks/bench_screening.py --seeds 2 3 --forged 40 --clean 40``; the
thresholds were looked at on seeds 0 and 1 only): 80 forged figures (103 copies) and 80
clean ones at the real size mix, every figure JPEG 70-95 or noisy. Forged images
flagged 55 % (target 90 %), clean images flagged 7.5 % (target 5 %), copies found with
both boxes at IoU >= 0.5: 41 % (target 85 %), baseline oF1 0.657 on the half-clean set
(all-authentic 0.5; target 0.75), 0.24 s per megapixel against 0.020 s for the PNG
decode, 12x (target 1x). All targets MISSED. The bottleneck is matching: with the
2-NN ratio test only 30 of 52 copies (seed 0) keep 4 or more true SIFT matches after
JPEG; without it 43 of 52 do, so a Hough vote over all nearest neighbours, restricted
to the eight symmetries, is the next step. SIFT itself is about 10x a PNG decode per
working pixel.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import cv2
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from ..config import merge_tuning
from ..dataset import images
from ..errors import ConfigError
from ..geometry import TRANSFORMS, Box, apply_transform, bbox, box_iou, inverse_transform
from . import copymove

__all__ = ["DEFAULT_TUNING", "ScreenPair", "Screened", "screen_image"]

#: Parameters of :func:`screen_image`; pass any of them as keyword arguments to override.
DEFAULT_TUNING: Mapping[str, Any] = MappingProxyType(
    {
        # image status: shorter side below this (px) is "too_small"; fewer than
        # flat_image_share of the working pixels with local contrast is "too_flat"
        "min_side": 24,
        "flat_image_share": 0.002,
        # keypoints
        "max_keypoints": 2000,
        "contrast_threshold": 0.02,   # SIFT's; OpenCV's default 0.04 misses faint texture
        "ratio": 0.75,                # generalized 2-NN ratio test
        "neighbours": 3,              # nearest neighbours examined per keypoint
        "min_shift": 10.0,            # working px: closer matches are the same spot
        # geometry
        "inlier_px": 3.0,             # working px, residual of an inlier
        "min_inliers": 4,
        "max_clusters": 8,
        "max_seeds": 300,             # one-point hypotheses tried per RANSAC round
        "group_link": 0.12,           # inliers this share of the longest side apart link
        "snap_degrees": 12.0,
        "scale_snap": 0.04,
        "max_scale": 2.0,
        # dense fallback below this many keypoints
        "fallback_keypoints": 40,
        "block_side": 8,              # px at the fallback's resolution
        "max_block_matches": 1500,    # the fallback's best matches kept
        "block_max_side": 256,        # the fallback runs with the longest side at most this
        # regions
        "agree_tol": 3.0,             # gray levels: least tolerance of the agreement map
        "agree_contrast": 0.8,        # ... and at most this share of the local contrast
        "max_pairs": 6,               # candidate pairs verified per image, largest first
        # false-positive controls
        "max_overlap": 0.2,
        "min_shift_frac": 0.3,
        "background_share": 0.45,
        "two_level_share": 0.75,
        "stroke_px": 3,
        "stroke_removed": 0.6,
        "flat_std": 2.5,
        "textured_share": 0.3,
        "ring_frac": 0.3,
        "periodic_ncc": 0.75,
        # verdict
        "copy_ncc": 0.85,
        "copy_residual_ncc": 0.3,
    }
)

#: Verdicts of a pair.
VERDICTS = ("copy", "unsure", "rejected")


@dataclass(frozen=True)
class ScreenPair:
    """One candidate duplicated pair.

    ``source`` and ``target`` are the two ends of the fitted transform
    (``target = transform(source)``, resized by ``scale``); without a twin which one
    was pasted is unknown (``roles == "undecided"``). Boxes are inclusive full
    resolution ``(x1, y1, x2, y2)``. The region masks are kept compactly, as the
    crops of their boxes; :meth:`source_mask`, :meth:`target_mask` and
    :meth:`instance_mask` give them at full size.
    """

    pair: int
    source_box: Box
    target_box: Box
    roles: str
    transform: str | None
    scale: float | None
    ncc: float | None
    residual_ncc: float | None
    identical_frac: float | None
    texture: int | None
    margin: float | None
    inliers: int
    method: str
    verdict: str
    reason: str
    source_crop: np.ndarray = field(repr=False)
    target_crop: np.ndarray = field(repr=False)

    def as_row(self) -> dict[str, Any]:
        """The columns of a tidy table (boxes as ``source_x1`` .. ``target_y2``), no masks."""
        row: dict[str, Any] = {"pair": self.pair}
        for prefix, box in (("source", self.source_box), ("target", self.target_box)):
            for key, value in zip(("x1", "y1", "x2", "y2"), box):
                row[f"{prefix}_{key}"] = value
        for key in ("roles", "transform", "scale", "ncc", "residual_ncc", "identical_frac",
                    "texture", "margin", "inliers", "method", "verdict", "reason"):
            row[key] = getattr(self, key)
        return row

    def source_mask(self, shape: tuple[int, int]) -> np.ndarray:
        """The source region as an (H, W) bool mask of the image's ``shape``."""
        return _paste(self.source_crop, self.source_box, shape)

    def target_mask(self, shape: tuple[int, int]) -> np.ndarray:
        """The target region as an (H, W) bool mask of the image's ``shape``."""
        return _paste(self.target_crop, self.target_box, shape)

    def instance_mask(self, shape: tuple[int, int]) -> np.ndarray:
        """Source and target together: one competition instance."""
        return self.source_mask(shape) | self.target_mask(shape)


@dataclass(frozen=True)
class Screened:
    """What the screen found in one image.

    ``status`` is ``"screened"``, or ``"too_small"`` / ``"too_flat"`` when the image
    could not be screened (then ``pairs`` is empty and ``reason`` says why).
    ``shape`` is the image's (H, W); ``keypoints`` the number of keypoints used
    (``method`` ``"sift"`` or ``"blocks"``, the dense fallback).
    """

    status: str
    reason: str
    shape: tuple[int, int]
    method: str
    keypoints: int
    pairs: list[ScreenPair]

    @property
    def copies(self) -> list[ScreenPair]:
        """The pairs whose verdict is ``"copy"``."""
        return [p for p in self.pairs if p.verdict == "copy"]

    def instances(self) -> list[np.ndarray]:
        """The baseline submission: one (H, W) mask per ``copy`` pair (source and target)."""
        return [p.instance_mask(self.shape) for p in self.copies]

    def rows(self) -> list[dict[str, Any]]:
        """:meth:`ScreenPair.as_row` of every pair."""
        return [p.as_row() for p in self.pairs]


def screen_image(rgb: np.ndarray, max_side: int = 1024, **tuning: Any) -> Screened:
    """Screen one image for duplicated regions, without mask or twin.

    Parameters
    ----------
    rgb : numpy.ndarray
        (H, W, 3) uint8 RGB or (H, W) uint8 gray.
    max_side : int
        Keypoints, clustering and regions run with the longest side at most this.
    **tuning
        Overrides of :data:`DEFAULT_TUNING`.

    Returns
    -------
    Screened
        Candidate pairs, best evidence first, copies before the others.

    Raises
    ------
    ImageError
        ``rgb`` is not a uint8 (H, W) or (H, W, 3) array.
    ConfigError
        A tuning key is unknown, or ``max_side`` is below 32.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> image = cv2.GaussianBlur(rng.normal(128, 40, (160, 200)), (0, 0), 1.5)
    >>> image = np.clip(image + rng.normal(0, 4, image.shape), 0, 255).astype(np.uint8)
    >>> image[90:140, 120:180] = np.fliplr(image[10:60, 20:80])
    >>> found = screen_image(image)
    >>> [(p.transform, p.verdict) for p in found.pairs]
    [('flip_h', 'copy')]
    """
    params = _merge_tuning(tuning)
    if not isinstance(max_side, int | np.integer) or max_side < 32:
        raise ConfigError(f"max_side must be an integer of at least 32, got {max_side!r}",
                          key="max_side")
    pixels = images.check_pixels(rgb, "rgb", bands=(1, 3))
    gray = pixels if pixels.ndim == 2 else cv2.cvtColor(pixels, cv2.COLOR_RGB2GRAY)
    h, w = gray.shape
    if min(h, w) < params["min_side"]:
        return Screened("too_small", f"shorter side {min(h, w)} px < {params['min_side']}",
                        (h, w), "none", 0, [])
    f = min(1.0, max_side / max(h, w))
    work = gray if f == 1.0 else cv2.resize(
        gray, (max(1, round(w * f)), max(1, round(h * f))), interpolation=cv2.INTER_AREA)
    local_std = _local_std(work)
    share = float((local_std >= params["flat_std"]).mean())
    if share < params["flat_image_share"]:
        return Screened("too_flat", f"{share:.2%} of the pixels have local contrast",
                        (h, w), "none", 0, [])

    matches, n_points, method = _sift_matches(work, params)
    if n_points < params["fallback_keypoints"]:
        matches, n_points, method = _block_matches(work, params)
    clusters = _clusters(matches, work.shape, params)
    cands = [c for c in (_region(work, local_std, c, params) for c in clusters) if c]
    cands.sort(key=lambda c: -c.area)
    cands = _distinct(cands)[: params["max_pairs"]]
    pairs = _verify(pixels if pixels.ndim == 2 else gray, work, local_std, cands, f, params)
    pairs.sort(key=lambda p: (VERDICTS.index(p.verdict), -p.inliers))
    pairs = [replace(p, pair=i + 1, method=method) for i, p in enumerate(pairs)]
    return Screened("screened", "", (h, w), method, n_points, pairs)


# --------------------------------------------------------------------------- inputs


def _merge_tuning(overrides: Mapping[str, Any]) -> dict[str, Any]:
    return merge_tuning(DEFAULT_TUNING, overrides, "screening")


def _local_std(gray: np.ndarray, side: int = 5) -> np.ndarray:
    """Standard deviation of the gray levels over a ``side`` x ``side`` window, float32."""
    g = gray.astype(np.float32)
    mean = cv2.boxFilter(g, -1, (side, side), borderType=cv2.BORDER_REFLECT)
    sq = cv2.boxFilter(g * g, -1, (side, side), borderType=cv2.BORDER_REFLECT)
    return np.sqrt(np.maximum(sq - mean * mean, 0))


# --------------------------------------------------------------------------- transforms


def _linear_parts() -> dict[str, np.ndarray]:
    """The 2x2 matrix L of every transform: target point = L @ source point + t.

    Derived from :data:`TRANSFORMS` itself, in (x, y) image coordinates.
    """
    hh, ww = 3, 5
    ys, xs = np.mgrid[:hh, :ww]
    coords = np.stack([xs, ys], axis=-1).astype(float)
    out = {}
    for name, fn in TRANSFORMS.items():
        moved = fn(coords)  # moved[i, j] = source (x, y) landing at target (j, i)
        ti, tj = np.mgrid[: moved.shape[0], : moved.shape[1]]
        src = moved.reshape(-1, 2)
        dst = np.stack([tj, ti], axis=-1).reshape(-1, 2).astype(float)
        design = np.hstack([src, np.ones((len(src), 1))])
        sol, *_ = np.linalg.lstsq(design, dst, rcond=None)
        out[name] = np.round(sol[:2].T)
    return out


_LINEAR = _linear_parts()

# SIFT descriptor of the mirror image of a patch: rows of the 4x4 grid reversed,
# orientation bins negated (index (row * 4 + col) * 8 + bin).
_MIRROR = np.array([((3 - r) * 4 + c) * 8 + (-o) % 8
                    for r in range(4) for c in range(4) for o in range(8)])


def _snap(linear: np.ndarray, params: dict[str, Any]) -> tuple[str | None, float]:
    """Nearest transform name to a fitted 2x2 linear part, and its scale."""
    scale = math.sqrt(abs(float(np.linalg.det(linear))))
    if scale <= 0:
        return None, 0.0
    rot = linear / scale
    best, err = None, 9.0
    for name, lin in _LINEAR.items():
        e = float(np.abs(rot - lin).max())
        if e < err:
            best, err = name, e
    # the largest entry difference of two rotations by angle a is about sin(a)
    if err > math.sin(math.radians(params["snap_degrees"])):
        return None, scale
    if abs(scale - 1) < params["scale_snap"]:
        scale = 1.0
    return best, scale


# --------------------------------------------------------------------------- matches


@dataclass
class _Matches:
    """Directed matches: points p (source) and q (target), hypotheses per match."""

    p: np.ndarray  # (M, 2) float
    q: np.ndarray
    mirror: np.ndarray  # (M,) bool: q holds the mirror image of p's patch
    pair_id: np.ndarray  # (M,) int: a match and its reverse share the id
    angle: np.ndarray | None = None  # (M,) radians of the proposed rotation, or None
    scale: np.ndarray | None = None

    @classmethod
    def empty(cls) -> _Matches:
        z = np.zeros((0, 2))
        return cls(z, z, np.zeros(0, bool), np.zeros(0, int))


def _sift_matches(work: np.ndarray, params: dict[str, Any]) -> tuple[_Matches, int, str]:
    sift = cv2.SIFT_create(nfeatures=params["max_keypoints"],
                           contrastThreshold=params["contrast_threshold"])
    kps, desc = sift.detectAndCompute(work, None)
    n = len(kps)
    if n < 2 or desc is None:
        return _Matches.empty(), n, "sift"
    pts = np.array([k.pt for k in kps], np.float64)
    ang = np.radians(np.array([k.angle for k in kps]))
    size = np.array([k.size for k in kps])
    desc = np.ascontiguousarray(desc, dtype=np.float32)
    sq = (desc * desc).sum(1)
    k = min(n, params["neighbours"] + 4)
    parts = []
    for mirror in (False, True):
        other = desc[:, _MIRROR] if mirror else desc
        d2 = desc @ other.T
        d2 *= -2
        d2 += sq[:, None]
        d2 += sq[None, :]
        idx = np.argpartition(d2, k - 1, axis=1)[:, :k]
        dist = np.sqrt(np.maximum(np.take_along_axis(d2, idx, 1), 0)).astype(np.float64)
        shift = np.hypot(*(pts[idx] - pts[:, None, :]).transpose(2, 0, 1))
        dist[shift < params["min_shift"]] = np.inf  # self, the same spot
        i, j = _g2nn(idx, dist, params["ratio"])
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
    return _Matches(
        p=np.concatenate([pts[i], pts[j]]), q=np.concatenate([pts[j], pts[i]]),
        mirror=np.concatenate([mirror, mirror]), pair_id=np.concatenate([ids, ids]),
        angle=np.concatenate([rot, rev_rot]), scale=np.concatenate([scale, 1 / scale]),
    ), n, "sift"


def _g2nn(idx: np.ndarray, dist: np.ndarray, ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """Generalized 2-NN test on sorted neighbour lists: keep neighbour m while
    d_m / d_(m+1) < ratio (neighbours at distance inf are skipped)."""
    order = np.argsort(dist, axis=1, kind="stable")
    idx, d = np.take_along_axis(idx, order, 1), np.take_along_axis(dist, order, 1)
    with np.errstate(invalid="ignore"):
        ok = d[:, :-1] < ratio * d[:, 1:]
    ok &= np.isfinite(d[:, :-1])
    ok = np.cumprod(ok, axis=1).astype(bool)  # stop at the first failure
    rows, cols = np.nonzero(ok)
    return rows, idx[rows, cols]


def _block_matches(work: np.ndarray, params: dict[str, Any]) -> tuple[_Matches, int, str]:
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
    h, w = work.shape
    f = min(1.0, params["block_max_side"] / max(h, w))
    g = work.astype(np.float32)
    if f < 1.0:
        g = cv2.resize(g, (max(1, round(w * f)), max(1, round(h * f))),
                       interpolation=cv2.INTER_AREA)
    side = params["block_side"]
    step = max(1, side // 4)
    gh, gw = g.shape
    if gh < side + step or gw < side + step:
        return _Matches.empty(), 0, "blocks"
    ys, xs = np.mgrid[0 : gh - side + 1 : step, 0 : gw - side + 1 : step]
    ys, xs = ys.ravel(), xs.ravel()
    blocks = np.lib.stride_tricks.sliding_window_view(g, (side, side))[ys, xs]
    flat = blocks.reshape(len(blocks), -1)
    mu, sd = flat.mean(1), flat.std(1)
    keep = sd >= 2 * params["flat_std"]
    if keep.sum() < 2:
        return _Matches.empty(), int(keep.sum()), "blocks"
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
        return _Matches.empty(), len(feats), "blocks"
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
    mirror = np.array([np.linalg.det(_LINEAR[names[b]]) < 0 for b in best], bool)
    angle = np.array([_angle_of(_LINEAR[names[b]]) for b in best])
    ids = np.arange(len(i))
    pts = pts / f
    return _Matches(
        p=np.concatenate([pts[i], pts[j]]), q=np.concatenate([pts[j], pts[i]]),
        mirror=np.concatenate([mirror, mirror]), pair_id=np.concatenate([ids, ids]),
        angle=np.concatenate([angle, np.where(mirror, angle, -angle)]),
        scale=np.ones(2 * len(i)),
    ), len(feats), "blocks"


def _angle_of(linear: np.ndarray) -> float:
    """Rotation angle of a linear part, after undoing the reflection x -> -x if any."""
    m = linear @ np.diag([-1.0, 1.0]) if np.linalg.det(linear) < 0 else linear
    return math.atan2(m[1, 0], m[0, 0])


# --------------------------------------------------------------------------- geometry


@dataclass
class _Cluster:
    affine: np.ndarray  # 2x3, source -> target, working px (reflection included)
    p: np.ndarray  # inlier points
    q: np.ndarray
    mirror: bool


def _clusters(m: _Matches, shape: tuple[int, int], params: dict[str, Any]) -> list[_Cluster]:
    """Sequential RANSAC of similarities (with reflection for mirror matches)."""
    out: list[_Cluster] = []
    alive = np.ones(len(m.p), bool)
    thr = params["inlier_px"]
    link = params["group_link"] * max(shape)
    for _ in range(params["max_clusters"]):
        idx = np.flatnonzero(alive)
        if len(idx) < params["min_inliers"]:
            break
        best = None
        for mirror in (False, True):
            sel = idx[m.mirror[idx] == mirror]
            if len(sel) < params["min_inliers"]:
                continue
            p = m.p[sel] * ([-1, 1] if mirror else [1, 1])
            q = m.q[sel]
            fit = _best_hypothesis(p, q, None if m.angle is None else m.angle[sel],
                                   None if m.scale is None else m.scale[sel], thr, params)
            if fit is not None and (best is None or fit[1].sum() > best[1].sum()):
                best = (fit[0], fit[1], sel, mirror)
        if best is None or best[1].sum() < params["min_inliers"]:
            break
        affine, inl, sel, mirror = best
        used = sel[inl]
        alive[np.isin(m.pair_id, m.pair_id[used])] = False
        groups = _groups(m.q[used], link)
        for g in np.unique(groups):
            members = used[groups == g]
            if len(np.unique(m.pair_id[members])) < params["min_inliers"]:
                continue
            full = affine.copy()
            if mirror:
                full[:, 0] = -full[:, 0]  # compose with x -> -x
            out.append(_Cluster(full, m.p[members], m.q[members], mirror))
    return out


def _best_hypothesis(p: np.ndarray, q: np.ndarray, angle: np.ndarray | None,
                     scale: np.ndarray | None, thr: float, params: dict[str, Any]
                     ) -> tuple[np.ndarray, np.ndarray] | None:
    """Similarity q ~ A p with most inliers, refitted on them; None when none fits."""
    if angle is not None:
        # one-point hypotheses from the keypoints' orientation and size
        # at most max_seeds hypotheses, spread evenly over the matches
        seeds = np.unique(np.linspace(0, len(p) - 1, min(len(p), params["max_seeds"])
                                      ).round().astype(int))
        c, s = scale[seeds] * np.cos(angle[seeds]), scale[seeds] * np.sin(angle[seeds])
        tx = q[seeds, 0] - (c * p[seeds, 0] - s * p[seeds, 1])
        ty = q[seeds, 1] - (s * p[seeds, 0] + c * p[seeds, 1])
        px, py = p[:, 0][None, :], p[:, 1][None, :]
        ex = c[:, None] * px - s[:, None] * py + tx[:, None] - q[:, 0][None, :]
        ey = s[:, None] * px + c[:, None] * py + ty[:, None] - q[:, 1][None, :]
        spread = np.hypot(px - p[seeds, 0][:, None], py - p[seeds, 1][:, None])
        loose = np.hypot(ex, ey) <= np.maximum(2 * thr, 0.12 * spread)
        cand = np.flatnonzero(loose[int(np.argmax(loose.sum(1)))])
        if len(cand) < 2:
            return None
    else:
        cand = np.arange(len(p))
    a, inl = cv2.estimateAffinePartial2D(
        p[cand].astype(np.float32), q[cand].astype(np.float32), method=cv2.RANSAC,
        ransacReprojThreshold=thr, maxIters=2000, confidence=0.995)
    if a is None:
        return None
    scale_fit = math.hypot(a[0, 0], a[1, 0])
    if not (1 / params["max_scale"] <= scale_fit <= params["max_scale"]):
        return None
    err = np.hypot(*(p @ a[:, :2].T + a[:, 2] - q).T)
    return a, err <= thr


def _groups(points: np.ndarray, link: float) -> np.ndarray:
    """Labels of single-linkage groups of points at distance ``link``."""
    if len(points) < 2:
        return np.zeros(len(points), int)
    pairs = cKDTree(points).query_pairs(link, output_type="ndarray")
    n = len(points)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    return connected_components(graph, directed=False)[1]


# --------------------------------------------------------------------------- regions


@dataclass
class _Candidate:
    cluster: _Cluster
    target: np.ndarray  # working-resolution bool mask
    source: np.ndarray
    area: int
    reason: str


def _region(work: np.ndarray, local_std: np.ndarray, c: _Cluster, params: dict[str, Any]
            ) -> _Candidate | None:
    """Grow the target region where the warped source agrees; map it back to the source."""
    h, w = work.shape
    g = work.astype(np.float32)
    a = c.affine
    warped = cv2.warpAffine(g, a, (w, h), flags=cv2.INTER_LINEAR, borderValue=-1)
    valid = cv2.warpAffine(np.ones_like(g), a, (w, h), flags=cv2.INTER_NEAREST) > 0
    hull = np.zeros((h, w), np.uint8)
    cv2.fillConvexPoly(hull, cv2.convexHull(np.round(c.q).astype(np.int32)), 1)
    x1, y1, x2, y2 = bbox(hull > 0)
    grow = max(8, round(0.6 * max(x2 - x1, y2 - y1)))
    rx1, ry1 = max(0, x1 - grow), max(0, y1 - grow)
    rx2, ry2 = min(w, x2 + grow + 1), min(h, y2 + grow + 1)
    roi = np.s_[ry1:ry2, rx1:rx2]
    gr, wr, vr, hr = g[roi], warped[roi], valid[roi], hull[roi] > 0
    core = hr & vr
    if core.sum() < 4:
        return None
    design = np.stack([wr[core], np.ones(int(core.sum()), np.float32)], axis=1)
    coef, *_ = np.linalg.lstsq(design, gr[core], rcond=None)
    diff = np.abs(wr * coef[0] + coef[1] - gr)
    diff[~vr] = 255
    diff = cv2.blur(diff, (5, 5))
    # a copy differs from its source by noise and compression only; unrelated content
    # by about its own local contrast
    contrast = float(np.median(local_std[roi][core]))
    tol = min(max(params["agree_tol"], 2.0 * float(np.median(diff[core]))),
              max(1.0, params["agree_contrast"] * contrast))
    textured = local_std[roi] >= params["flat_std"]
    agree = (diff <= tol) & (textured | cv2.dilate(hr.astype(np.uint8), np.ones((5, 5))) > 0)
    agree &= vr
    n, labels = cv2.connectedComponents(agree.astype(np.uint8), connectivity=8)
    seeds = np.unique(labels[core & agree])
    seeds = seeds[seeds > 0]
    region = np.isin(labels, seeds) | core
    region = cv2.morphologyEx(region.astype(np.uint8), cv2.MORPH_CLOSE,
                              np.ones((5, 5), np.uint8)) > 0
    region = _fill_holes(region)
    target = np.zeros((h, w), bool)
    target[roi] = region
    source = cv2.warpAffine(target.astype(np.uint8), a, (w, h), flags=cv2.INTER_NEAREST
                            | cv2.WARP_INVERSE_MAP) > 0
    if not source.any():
        return None
    return _Candidate(c, target, source, int(target.sum()), "")


def _distinct(cands: list[_Candidate]) -> list[_Candidate]:
    """Drop candidates that repeat a kept one (the same two regions, either way round)."""
    kept: list[_Candidate] = []
    for c in cands:
        tb, sb = bbox(c.target), bbox(c.source)
        if not any((box_iou(tb, bbox(k.target)) > 0.5 and box_iou(sb, bbox(k.source)) > 0.5)
                   or (box_iou(tb, bbox(k.source)) > 0.5 and box_iou(sb, bbox(k.target)) > 0.5)
                   for k in kept):
            kept.append(c)
    return kept


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    padded = np.pad(mask.astype(np.uint8), 1)
    flood = padded.copy()
    cv2.floodFill(flood, None, (0, 0), 1)
    return (padded | (flood == 0))[1:-1, 1:-1].astype(bool)


# --------------------------------------------------------------------------- controls


def _control(work: np.ndarray, local_std: np.ndarray, cand: _Candidate,
             params: dict[str, Any]) -> str:
    """The false-positive control a candidate fails, or ''."""
    t, s = cand.target, cand.source
    inter = int((t & s).sum())
    smaller = min(int(t.sum()), int(s.sum()))
    (tx1, ty1, tx2, ty2), (sx1, sy1, sx2, sy2) = bbox(t), bbox(s)
    shift = math.hypot((tx1 + tx2 - sx1 - sx2) / 2, (ty1 + ty2 - sy1 - sy2) / 2)
    size = math.sqrt(smaller)
    close = inter > params["max_overlap"] * smaller or shift < params["min_shift_frac"] * size
    if close and shift >= params["min_shift"] and (
            _ring_ncc(work, cand, params) >= params["periodic_ncc"]):
        return "periodic"  # the agreement spread over a repeating pattern
    if close:
        return "too_close"
    glyph = _glyph_kind(work, local_std, t, params)
    if glyph:
        return glyph
    if float((local_std[t] >= params["flat_std"]).mean()) < params["textured_share"]:
        return "flat"
    if _ring_ncc(work, cand, params) >= params["periodic_ncc"]:
        return "periodic"
    return ""


def _glyph_kind(work: np.ndarray, local_std: np.ndarray, t: np.ndarray,
                params: dict[str, Any]) -> str:
    """``"scale_bar"``, ``"text"`` or '' for the region ``t`` (see the module docstring).

    Background: flat pixels (local contrast below ``flat_std``) within 6 gray levels of
    the commonest level of the region's flat pixels.
    """
    flat = t & (local_std < params["flat_std"])
    hist = np.bincount(work[flat if flat.sum() >= 0.1 * t.sum() else t],
                       minlength=256).astype(float)
    mode = int(np.argmax(np.convolve(hist, np.ones(5), mode="same")))
    x1, y1, x2, y2 = bbox(t)
    crop = np.s_[y1 : y2 + 1, x1 : x2 + 1]
    k = params["stroke_px"]
    near = np.abs(work[crop].astype(int) - mode) <= 6
    # background: at the commonest level and flat, or beside strong ink (the edge of
    # a glyph is not flat, but a texture has no ink 40 levels off its commonest level)
    ink = (np.abs(work[crop].astype(int) - mode) > 40).astype(np.uint8)
    beside = cv2.dilate(ink, np.ones((5, 5), np.uint8)) > 0
    background = t[crop] & near & ((local_std[crop] < params["flat_std"]) | beside)
    if background.sum() < params["background_share"] * t.sum():
        return ""
    fg = (t[crop] & ~near).astype(np.uint8)
    # drawn graphics have one ink level besides the background; micrographs a range
    values = work[crop][fg > 0].astype(int)
    hist = np.bincount(values, minlength=256).astype(float)
    ink_mode = int(np.argmax(np.convolve(hist, np.ones(5), mode="same")))
    two_level = (int(background.sum()) + int((np.abs(values - ink_mode) <= 10).sum())
                 >= params["two_level_share"] * t.sum())
    if fg.sum() < 4:
        return ""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(fg, connectivity=8)
    big = int(np.argmax(stats[1:, cv2.CC_STAT_AREA])) + 1
    bw, bh, area = stats[big, 2], stats[big, 3], stats[big, 4]
    if (area >= 0.7 * fg.sum() and area >= 0.8 * bw * bh
            and max(bw, bh) >= 3 * min(bw, bh)):
        return "scale_bar"
    return "text" if two_level or _thin(fg, k, params) else ""


def _thin(mask: np.ndarray, k: int, params: dict[str, Any]) -> bool:
    """Whether an erosion by a k x k square removes ``stroke_removed`` of ``mask``:
    strokes at most about k - 1 pixels wide."""
    core = cv2.erode(mask, np.ones((k, k), np.uint8))
    return bool(core.sum() <= (1 - params["stroke_removed"]) * mask.sum())


def _ring_ncc(work: np.ndarray, cand: _Candidate, params: dict[str, Any]) -> float:
    """NCC of the ring around the target with the ring mapped from around the source."""
    h, w = work.shape
    t = cand.target
    x1, y1, x2, y2 = bbox(t)
    width = max(3, round(params["ring_frac"] * max(x2 - x1 + 1, y2 - y1 + 1)))
    k = np.ones((2 * width + 1, 2 * width + 1), np.uint8)
    ring = (cv2.dilate(t.astype(np.uint8), k) > 0) & ~t & ~cand.source
    g = work.astype(np.float32)
    warped = cv2.warpAffine(g, cand.cluster.affine, (w, h), flags=cv2.INTER_LINEAR,
                            borderValue=-1)
    ring &= warped >= 0
    if ring.sum() < 16:
        return 0.0
    a, b = g[ring].astype(np.float64), warped[ring].astype(np.float64)
    a -= a.mean()
    b -= b.mean()
    den = math.sqrt(float((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else 0.0


# --------------------------------------------------------------------------- verification


def _verify(gray: np.ndarray, work: np.ndarray, local_std: np.ndarray,
            cands: list[_Candidate], f: float, params: dict[str, Any]) -> list[ScreenPair]:
    """Controls, then copymove's dense scores at full resolution, then the verdict."""
    h, w = gray.shape
    todo, pairs = [], []
    for cand in cands:
        cand.reason = _control(work, local_std, cand, params)
        name, scale = _snap(cand.cluster.affine[:, :2], params)
        target = _upsample(cand.target, (h, w), f)
        tbox = bbox(target)
        if tbox is None:
            continue
        if name is None:
            cand.reason = cand.reason or "free_rotation"
            name, scale = "identity", 1.0
        sbox = _source_box(cand, tbox, name, scale, f, (h, w))
        todo.append((cand, target, tbox, sbox))
    results = copymove.verify_pairs(gray, [(t, s) for _, t, _, s in todo]) if todo else []
    for (cand, target, tbox, sbox), res in zip(todo, results):
        inliers = len(np.unique(np.round(cand.cluster.q), axis=0))
        transform, scale = res.transform, res.scale
        src_box = res.source_box or sbox
        reason = cand.reason
        if not reason and (res.texture is not None and res.texture < copymove.TEXTURE_MIN):
            reason = "flat"
        if reason == "free_rotation":
            verdict = "unsure"
        elif reason:
            verdict = "rejected"
        elif (res.ncc is not None and res.ncc >= params["copy_ncc"]
              and res.residual_ncc >= params["copy_residual_ncc"]):
            verdict = "copy"
        else:
            verdict, reason = "unsure", "weak_match"
        tcrop = target[tbox[1] : tbox[3] + 1, tbox[0] : tbox[2] + 1]
        scrop = _source_crop(tcrop, transform or "identity", src_box)
        pairs.append(ScreenPair(
            pair=0, source_box=src_box, target_box=tbox, roles="undecided",
            transform=transform, scale=scale, ncc=res.ncc, residual_ncc=res.residual_ncc,
            identical_frac=res.identical_frac, texture=res.texture, margin=res.margin,
            inliers=inliers, method="",
            verdict=verdict, reason=reason, source_crop=scrop, target_crop=tcrop,
        ))
    return pairs


def _upsample(mask: np.ndarray, shape: tuple[int, int], f: float) -> np.ndarray:
    """A working-resolution mask at full resolution (only its box is resized)."""
    if f == 1.0:
        return mask
    h, w = shape
    x1, y1, x2, y2 = bbox(mask)
    fx1, fy1 = math.floor(x1 / f), math.floor(y1 / f)
    fx2, fy2 = min(w - 1, math.ceil((x2 + 1) / f) - 1), min(h - 1, math.ceil((y2 + 1) / f) - 1)
    crop = mask[y1 : y2 + 1, x1 : x2 + 1].astype(np.uint8)
    out = np.zeros(shape, bool)
    out[fy1 : fy2 + 1, fx1 : fx2 + 1] = cv2.resize(
        crop, (fx2 - fx1 + 1, fy2 - fy1 + 1), interpolation=cv2.INTER_NEAREST) > 0
    return out


def _source_box(cand: _Candidate, tbox: Box, name: str, scale: float, f: float,
                shape: tuple[int, int]) -> Box:
    """The box the target box comes from under the snapped transform and scale."""
    tw, th = tbox[2] - tbox[0] + 1, tbox[3] - tbox[1] + 1
    if name in ("rot90", "rot270", "transpose", "anti_transpose"):
        tw, th = th, tw
    sw, sh = max(1, round(tw / scale)), max(1, round(th / scale))
    cx, cy = (tbox[0] + tbox[2] + 1) / 2 * f, (tbox[1] + tbox[3] + 1) / 2 * f
    inv = cv2.invertAffineTransform(cand.cluster.affine)
    scx, scy = (inv @ np.array([cx, cy, 1.0])) / f
    h, w = shape
    x1 = int(np.clip(round(scx - sw / 2), 0, max(0, w - sw)))
    y1 = int(np.clip(round(scy - sh / 2), 0, max(0, h - sh)))
    return (x1, y1, min(w - 1, x1 + sw - 1), min(h - 1, y1 + sh - 1))


def _source_crop(tcrop: np.ndarray, transform: str, sbox: Box) -> np.ndarray:
    """The target's region brought back to the source box (transform undone, resized)."""
    back = np.ascontiguousarray(apply_transform(tcrop, inverse_transform(transform)))
    sw, sh = sbox[2] - sbox[0] + 1, sbox[3] - sbox[1] + 1
    if back.shape != (sh, sw):
        back = cv2.resize(back.astype(np.uint8), (sw, sh), interpolation=cv2.INTER_NEAREST) > 0
    return back


def _paste(crop: np.ndarray, box: Box, shape: tuple[int, int]) -> np.ndarray:
    out = np.zeros(shape, bool)
    x1, y1, x2, y2 = box
    out[y1 : y2 + 1, x1 : x2 + 1] = crop[: y2 - y1 + 1, : x2 - x1 + 1]
    return out
