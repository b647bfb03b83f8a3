"""Image health: the per-image quality checks of cleanvision, on decoded arrays.

The checks, scores and default thresholds are those of cleanvision 0.3.7
(cleanlab/cleanvision, ``issue_managers/image_property.py``,
``image_property_issue_manager.py`` and ``duplicate_issue_manager.py``), so that a
user who knows cleanvision reads the same numbers here. :func:`image_scores` measures
one image, :func:`score_pair` a forged image and its authentic twin (the second from
the first where the two are the same, with the same results); :func:`flag_issues` then
takes the whole table, computes the scores that depend on the dataset (odd size,
duplicate sets) and marks every issue; :func:`duplicate_groups` lists the duplicate
sets.

Every score is "low = issue": an image has the issue when its score is below the
threshold (cleanvision's convention).

==========================  =========  ===================================  =============
column                      range      meaning                              issue when
==========================  =========  ===================================  =============
``dark_score``              [0, 1]     ``brightness_perc_99``; low = dark   < 0.32
``light_score``             [0, 1]     ``1 - brightness_perc_5``;           < 0.05
                                       low = light (washed out)
``blurry_score``            [0, 1]     ``min(1, (1 - exp(-0.01 *            < 0.29
                                       blurriness)) + s)``, ``s`` the
                                       histogram-spread term below;
                                       low = blurry
``low_information_score``   [0, 1]     ``min(1, 0.1 * entropy)``;           < 0.3
                                       low = little information
``odd_aspect_ratio_score``  (0, 1]     ``aspect_ratio``; low = elongated    < 0.35
``odd_size_score``          [0, 1]     1 at the middle of the dataset's     < 0.5 (1.0
                                       size band, 0 far outside it;         when the
                                       low = unusual size (dataset step)    band is 0 wide)
``grayscale_score``         {0, 1}     0 = grayscale, 1 = colour            == 0
``exact_duplicates_score``  (0, 1]     ``1 / n`` in a set of ``n`` images   < 1
                                       with the same pixels, else 1
``near_duplicates_score``   (0, 1]     ``1 / n`` in a set of ``n`` images   < 1
                                       with the same ``phash``, else 1
==========================  =========  ===================================  =============

Raw values (one row per image, from :func:`image_scores`):

- ``brightness_perc_5``, ``brightness_perc_99`` in [0, 1]: 5th and 99th percentiles
  (numpy's linear interpolation) of the perceived brightness of every pixel,
  ``sqrt(0.241 R^2 + 0.691 G^2 + 0.068 B^2) / 255``, or ``gray / 255``; alpha ignored.
- ``entropy`` in [0, 8 + log2(bands)] bits: Shannon entropy of the 256-bin histograms
  of every stored band (alpha included) pooled together, as Pillow's
  ``Image.entropy``; a constant image has 0 as gray, log2(3) as RGB, 2 as RGBA.
- ``blurriness`` in [0, 127.5]: standard deviation of Pillow's ``FIND_EDGES`` response
  (3x3 Laplacian ``8 c - sum(neighbours)`` clipped to [0, 255], border pixels kept)
  on the gray thumbnail whose longer side is at most 64 pixels (high = sharp; the
  thumbnail is made as described under the differences below).
- ``blurriness_grayscale_std`` >= 0: standard deviation of the 256 bin counts of that
  thumbnail's histogram (high = few gray levels). Its score
  ``s = 1 - exp(-0.01 * std)`` enters ``blurry_score`` only above 0.18, so that flat
  images are not called blurry.
- ``aspect_ratio`` in (0, 1]: ``min(W / H, H / W)``.
- ``size`` > 0: ``sqrt(W * H)``.
- ``grayscale`` (bool): one band, gray + alpha, or three colour bands that are equal.
- ``pixel_hash``: SHA-1 (40 hex digits) of the shape, dtype and pixel bytes (hashed in
  blocks of rows, see :func:`pixel_hash`).
- ``phash``: 64-bit DCT perceptual hash (16 hex digits) as ``imagehash.phash``.

Where this differs from cleanvision 0.3.7, and why:

- ``grayscale``: cleanvision flags only files of Pillow mode ``L``; an RGB file whose
  channels are equal is flagged here too (cleanvision's own fallback test for
  images without a mode, which never runs for files). Gray + alpha counts as gray.
- ``pixel_hash`` is SHA-1 over shape, dtype and pixel bytes (in row blocks);
  cleanvision hashes the bytes alone with MD5, so two images with the same bytes and
  different shapes are duplicates there, not here. Either way a set is images with equal
  pixels.
- Thumbnails for blurriness are made from the gray image, with Pillow's
  ``reducing_gap`` of :data:`BLUR_REDUCING_GAP` (an image more than four times the
  thumbnail is first box-averaged by an integer factor); cleanvision resizes the
  colour image at full size, then converts it to gray. The thumbnails differ by
  rounding and filtering: on 60 images of the real size mix (up to 2592 x 3888) all
  flags agreed with cleanvision's, ``blurry_score`` differed by at most 0.031 (median
  0.0013), except where the spread term ``s`` crosses 0.18 in one and not the other
  (one image: 0.18). Resizing the colour image at full size would cost about a third
  of the decoding time of a 2592 x 3888 image.
- Arrays are measured as decoded by :mod:`eda_lib.dataset.images`: palette images
  are expanded and 16-bit images reduced to 8 bits by the caller, where cleanvision
  measures palette indices and divides 16-bit values by 255.
"""

from __future__ import annotations

import copy
import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import pandas as pd
import scipy.fft
from PIL import Image

from ..dataset import images
from ..errors import ConfigError
from . import resample

__all__ = [
    "BLUR_MAX_SIDE", "DEFAULTS", "HASH_BLOCK_BYTES", "ISSUES", "RAW_COLUMNS", "aspect_ratio",
    "blurriness", "brightness_percentiles", "duplicate_groups", "entropy", "flag_issues",
    "image_scores", "is_grayscale", "merged_thresholds", "perceptual_hash", "pixel_hash",
    "score_pair", "to_gray",
]

ISSUES = ("dark", "light", "odd_aspect_ratio", "low_information", "exact_duplicates",
          "near_duplicates", "blurry", "grayscale", "odd_size")
"""Every issue type, in cleanvision's order; columns are ``<issue>_score`` and
``is_<issue>_issue``."""

DEFAULTS: dict[str, dict[str, float | None]] = {
    "dark": {"threshold": 0.32},
    "light": {"threshold": 0.05},
    "odd_aspect_ratio": {"threshold": 0.35},
    "low_information": {"threshold": 0.3, "normalizing_factor": 0.1},
    "blurry": {"threshold": 0.29, "normalizing_factor": 0.01, "color_threshold": 0.18},
    "grayscale": {},
    "odd_size": {"threshold": None, "iqr_factor": 3.0},
    "exact_duplicates": {},
    "near_duplicates": {},
}
"""Default parameters per issue, from cleanvision 0.3.7
(``ImagePropertyIssueManager.get_default_params``; duplicates have no threshold: a
set is images with equal hashes). ``odd_size.threshold`` ``None`` is cleanvision's
automatic choice: 0.5, or 1.0 when the quartile band has zero width. Never mutated:
:func:`merged_thresholds` returns new dicts."""

RAW_COLUMNS = ("brightness_perc_5", "brightness_perc_99", "entropy", "blurriness",
               "blurriness_grayscale_std", "aspect_ratio", "size", "grayscale",
               "pixel_hash", "phash")
"""Columns of :func:`image_scores` that :func:`flag_issues` needs."""

BLUR_MAX_SIDE = 64
"""Longer side of the blurriness thumbnail (cleanvision's
``MAX_RESOLUTION_FOR_BLURRY_DETECTION``)."""

BLUR_REDUCING_GAP = 4.0
"""Pillow's ``reducing_gap`` for the blurriness thumbnail: an image more than four
times the thumbnail's size is first box-averaged by an integer factor, keeping it at
least four times the thumbnail, then filtered (a sixth of the cost on 2592 x 3888)."""

_BRIGHTNESS_WEIGHTS = (241, 691, 68)  # cleanvision's 0.241, 0.691, 0.068, times 1000
_SQUARES = (np.arange(256, dtype=np.int32) ** 2).reshape(1, 256)  # a cv2.LUT table
_HIGH_BINS = 1 << 10  # keys are < 2**26: their high 16 bits are < 1024
_CHUNK_PIXELS = 1 << 18  # pixels per block of the brightness keys (squares stay in cache)
_MAX_HIST_PIXELS = 1 << 24  # cv2.calcHist counts in float32: exact below 2**24


# --------------------------------------------------------------------------- histograms


def _bands(a: np.ndarray) -> int:
    return 1 if a.ndim == 2 else a.shape[2]


def _histogram(a: np.ndarray, band: int, bins: int, mask: np.ndarray | None = None) -> np.ndarray:
    """Exact int64 counts of ``a[..., band]`` values in ``range(bins)`` (where ``mask``
    is non-zero, when given)."""
    counts = np.zeros(bins, np.int64)
    rows = max(1, _MAX_HIST_PIXELS // a.shape[1])
    for y in range(0, a.shape[0], rows):
        block_mask = None if mask is None else mask[y:y + rows]
        hist = cv2.calcHist([a[y:y + rows]], [band], block_mask, [bins], [0, bins])
        counts += hist.ravel().astype(np.int64)
    return counts


def _band_counts(a: np.ndarray) -> np.ndarray:
    """(bands, 256) int64 histogram of each band of ``a``."""
    return np.stack([_histogram(a, band, 256) for band in range(_bands(a))])


# --------------------------------------------------------------------------- measurements


def is_grayscale(pixels: np.ndarray) -> bool:
    """Whether the image holds gray levels only.

    True for one band, gray + alpha, and RGB(A) whose three colour channels are equal
    (alpha ignored).

    Examples
    --------
    >>> is_grayscale(np.zeros((2, 2, 3), np.uint8)), is_grayscale(np.eye(2, 2, 0, np.uint8))
    (True, True)
    """
    return _is_gray(images.check_pixels(pixels))


def _is_gray(a: np.ndarray, band_counts: np.ndarray | None = None) -> bool:
    """:func:`is_grayscale` of checked ``a``, given its band histograms if at hand."""
    if _bands(a) <= 2:
        return True
    if band_counts is not None and not (np.array_equal(band_counts[0], band_counts[1])
                                        and np.array_equal(band_counts[1], band_counts[2])):
        return False  # channels with different histograms differ somewhere
    return bool(np.array_equal(a[..., 0], a[..., 1]) and np.array_equal(a[..., 1], a[..., 2]))


def to_gray(pixels: np.ndarray) -> np.ndarray:
    """Gray levels of the image as Pillow's ``convert("L")`` gives them.

    ``L = R * 299/1000 + G * 587/1000 + B * 114/1000`` (ITU-R 601-2, Pillow's rounding),
    alpha ignored; gray images are returned as they are.

    Returns
    -------
    numpy.ndarray
        (H, W) uint8, C-contiguous.
    """
    a = images.check_pixels(pixels)
    return _gray(a, _is_gray(a))


def _gray(a: np.ndarray, gray_like: bool) -> np.ndarray:
    if a.ndim == 2:
        return a
    if gray_like:  # equal channels: Pillow's L is exactly the channel
        return np.ascontiguousarray(a[..., 0])
    # Pillow shares an RGBA buffer but unpacks an RGB one; its L ignores alpha
    rgba = a if a.shape[2] == 4 else cv2.cvtColor(a, cv2.COLOR_RGB2RGBA)
    return np.asarray(Image.fromarray(rgba).convert("L"))


def brightness_percentiles(pixels: np.ndarray,
                           percentiles: Sequence[float] = (5, 99)) -> tuple[float, ...]:
    """Percentiles of the perceived brightness of the pixels.

    Brightness is ``sqrt(0.241 R^2 + 0.691 G^2 + 0.068 B^2) / 255`` per pixel (alpha
    ignored) and ``gray / 255`` for gray images, in [0, 1]; percentiles interpolate
    linearly between order statistics, as ``numpy.percentile``. Exact (to
    floating-point rounding), computed from integer histograms: no float copy of the
    image is made.

    Parameters
    ----------
    pixels : numpy.ndarray
        uint8 (H, W), (H, W, 2), (H, W, 3) or (H, W, 4).
    percentiles : sequence of float
        In [0, 100]. cleanvision scores use the 5th (light) and 99th (dark).

    Examples
    --------
    >>> brightness_percentiles(np.full((4, 4, 3), 255, np.uint8))
    (1.0, 1.0)
    """
    a = images.check_pixels(pixels)
    return _brightness_percentiles(a, _is_gray(a), percentiles)


def _brightness_percentiles(a: np.ndarray, gray_like: bool, percentiles: Sequence[float],
                            band_counts: np.ndarray | None = None,
                            keys: _BrightnessKeys | None = None) -> tuple[float, ...]:
    """Brightness percentiles of ``a``; gray ones from ``band_counts`` (its band
    histograms), colour ones from ``keys`` (its brightness keys), when given."""
    n = a.shape[0] * a.shape[1]
    if gray_like:
        counts = band_counts[0] if band_counts is not None else _histogram(a, 0, 256)
        cumulative = np.cumsum(counts)

        def value(rank: int) -> float:
            return _bin_of_rank(cumulative, rank) / 255.0
    else:
        keys = keys if keys is not None else _BrightnessKeys(a)

        def value(rank: int) -> float:
            return math.sqrt(keys.of_rank(rank) / 1000) / 255

    return tuple(_percentile(value, n, q) for q in percentiles)


def _percentile(value: Callable[[int], float], n: int, q: float) -> float:
    """numpy's linear-interpolation percentile, from the order statistic ``value(rank)``."""
    virtual = q / 100 * (n - 1)
    lo = min(math.floor(virtual), n - 1)
    hi = min(lo + 1, n - 1)
    t = virtual - lo
    a, b = value(lo), value(hi)
    return b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t


def _bin_of_rank(cumulative: np.ndarray, rank: int) -> int:
    """Value of the ``rank``-th smallest element (0-based) of a histogram, given as its
    cumulative counts."""
    return int(np.searchsorted(cumulative, rank, side="right"))


class _BrightnessKeys:
    """Order statistics of the integer brightness keys ``241 R^2 + 691 G^2 + 68 B^2``.

    Brightness is ``sqrt(key / 1000) / 255``. Keys (< 2**26) are computed exactly, in
    row blocks that stay in cache: squares in int32 by ``cv2.LUT``, their weighted
    sum by ``cv2.transform`` (which sums 32-bit integers in double precision), both into
    buffers reused from block to block. Each block's keys are split into two uint16
    planes, ``key = high * 65536 + low``; a rank is found in the histogram of ``high``
    (1024 bins, counted block by block), then in the histogram of ``low`` among the
    pixels of that ``high`` bin, counted the first time a rank falls in the bin.

    Two levels rather than one exact selection (``numpy.partition`` of int32 keys):
    they are faster on one image, and a near copy (:meth:`patched`) needs only its
    changed rows counted. On the pairs of the real size mix they take about half the
    time (``benchmarks/bench_health.py``); the plain selection made decoding and
    health 1.15 times slower.
    """

    def __init__(self, a: np.ndarray):
        h, w = a.shape[:2]
        self.low = np.empty((h, w), np.uint16)
        self.high = np.empty((h, w), np.uint16)
        self.high_counts = np.zeros(_HIGH_BINS, np.int64)
        self._low_counts: dict[int, np.ndarray] = {}  # per high bin, counted once
        self._fill(a, 0, h)
        self._cumulate()

    def _cumulate(self) -> None:
        self._high_cumulative = np.cumsum(self.high_counts)
        self._low_cumulative = {high: np.cumsum(c) for high, c in self._low_counts.items()}

    def _fill(self, a: np.ndarray, start: int, stop: int) -> None:
        """Compute the keys of rows ``start:stop`` of ``a`` into the planes and add them
        to the high-bin counts."""
        w = a.shape[1]
        weights = np.array([_BRIGHTNESS_WEIGHTS + (0,) * (_bands(a) - 3)], np.float64)
        rows = max(1, _CHUNK_PIXELS // w)
        squares = np.empty((min(rows, stop - start), w, a.shape[2]), np.int32)
        keys = np.empty((min(rows, stop - start), w), np.int32)
        for y in range(start, stop, rows):
            block = a[y:min(y + rows, stop)]
            n = len(block)
            cv2.LUT(block, _SQUARES, dst=squares[:n])
            cv2.transform(squares[:n], weights, dst=keys[:n])
            # little-endian int32 seen as (low, high) uint16 pairs
            halves = keys[:n].astype("<i4", copy=False).view(np.uint16).reshape(n, w, 2)
            high = self.high[y:y + n]
            cv2.split(halves, [self.low[y:y + n], high])
            self.high_counts += _histogram(high, 0, _HIGH_BINS)

    def patched(self, a: np.ndarray, rows: np.ndarray) -> _BrightnessKeys:
        """The keys of ``a`` (same height and width), which differs from the image of
        these keys in the given rows only (sorted indices); these keys are left as
        they are.

        The ``low`` histograms counted so far are corrected on those rows rather than
        dropped: the percentiles of a near copy tend to fall in the same ``high`` bins.
        """
        out = copy.copy(self)
        out.low, out.high = self.low.copy(), self.high.copy()
        out.high_counts = self.high_counts.copy()
        out._low_counts = {high: counts.copy() for high, counts in self._low_counts.items()}
        runs = np.split(rows, np.flatnonzero(np.diff(rows) != 1) + 1) if rows.size else []
        for run in runs:
            start, stop = int(run[0]), int(run[-1]) + 1
            out.high_counts -= _histogram(out.high[start:stop], 0, _HIGH_BINS)
            out._count_lows(start, stop, np.subtract)
            out._fill(a, start, stop)
            out._count_lows(start, stop, np.add)
        out._cumulate()
        return out

    def _count_lows(self, start: int, stop: int, op: np.ufunc) -> None:
        """Add (or subtract) the ``low`` values of rows ``start:stop`` to the ``low``
        histograms counted so far, each among the pixels of its ``high`` bin."""
        high, low = self.high[start:stop].ravel(), self.low[start:stop].ravel()
        for bin_, counts in self._low_counts.items():
            in_bin = np.compress(high == bin_, low)
            if in_bin.size:
                op(counts, np.bincount(in_bin, minlength=1 << 16), out=counts)

    def of_rank(self, rank: int) -> int:
        """The ``rank``-th smallest key (0-based)."""
        high = _bin_of_rank(self._high_cumulative, rank)
        if high not in self._low_counts:
            if self.high_counts[high] * 8 < self.high.size:  # a few pixels: gather them
                # np.compress, unlike a boolean index, does not branch on every pixel
                in_bin = np.compress((self.high == high).ravel(), self.low.ravel())
                counts = np.bincount(in_bin, minlength=1 << 16)
            else:  # a plateau (a white background, say): count in place
                in_bin = cv2.inRange(self.high, high, high)
                least, most, _, _ = cv2.minMaxLoc(self.low, mask=in_bin)
                if least == most:  # one key only (a flat colour): nothing to count
                    counts = np.zeros(1 << 16, np.int64)
                    counts[int(least)] = self.high_counts[high]
                else:
                    counts = _histogram(self.low, 0, 1 << 16, mask=in_bin)
            self._low_counts[high] = counts
            self._low_cumulative[high] = np.cumsum(counts)
        below = int(self._high_cumulative[high - 1]) if high else 0
        return (high << 16) + _bin_of_rank(self._low_cumulative[high], rank - below)


def entropy(pixels: np.ndarray) -> float:
    """Shannon entropy in bits of the pooled 256-bin histograms of every stored band.

    Equals Pillow's ``Image.entropy()`` on the image in its stored mode (cleanvision's
    ``calc_entropy``): alpha counts as a band, and a constant RGB image has log2(3).

    Examples
    --------
    >>> entropy(np.array([[0, 255]], np.uint8))
    1.0
    """
    return _entropy(_band_counts(images.check_pixels(pixels)))


def _entropy(band_counts: np.ndarray) -> float:
    pooled = band_counts.ravel()
    p = pooled[pooled > 0] / pooled.sum()
    return float(-(p * np.log2(p)).sum()) + 0.0  # + 0.0: a constant image gives 0, not -0


def aspect_ratio(height: int, width: int) -> float:
    """``min(W / H, H / W)`` in (0, 1]: 1 for a square, small for a strip.

    Examples
    --------
    >>> aspect_ratio(1, 20)
    0.05
    """
    return min(width / height, height / width)


def _blur_size(height: int, width: int) -> tuple[int, int] | None:
    """cleanvision's blur thumbnail size ``(W, H)``, or None to keep the image.

    With ``r = max(W, H) / 64``, an image with ``r > 1`` becomes
    ``(max(int(W // r), 1), max(int(H // r), 1))``.
    """
    r = max(width, height) / BLUR_MAX_SIDE
    return (max(int(width // r), 1), max(int(height // r), 1)) if r > 1 else None


def _resized(gray: np.ndarray, size: tuple[int, int], resample: Image.Resampling,
             reducing_gap: float | None = None) -> np.ndarray:
    return np.asarray(Image.fromarray(gray).resize(size, resample, reducing_gap=reducing_gap))


def _edges(gray: np.ndarray) -> np.ndarray:
    """Pillow's ``FIND_EDGES``: ``8 c - sum(8 neighbours)`` clipped to [0, 255], border kept."""
    g = gray.astype(np.int16)
    out = g.copy()
    if g.shape[0] >= 3 and g.shape[1] >= 3:
        neighbours = (g[:-2, :-2] + g[:-2, 1:-1] + g[:-2, 2:] + g[1:-1, :-2] + g[1:-1, 2:]
                      + g[2:, :-2] + g[2:, 1:-1] + g[2:, 2:])
        out[1:-1, 1:-1] = np.clip(8 * g[1:-1, 1:-1] - neighbours, 0, 255)
    return out


def blurriness(gray: np.ndarray) -> tuple[float, float]:
    """cleanvision's two blur measurements, on the 64-pixel gray thumbnail.

    Parameters
    ----------
    gray : numpy.ndarray
        (H, W) uint8 gray image at full size (see :func:`to_gray`).

    Returns
    -------
    blurriness : float
        Standard deviation of the ``FIND_EDGES`` response of the thumbnail, in
        [0, 127.5]; low = blurry.
    grayscale_std : float
        Standard deviation of the 256 counts of the thumbnail's histogram; high = few
        gray levels (flat image).

    Examples
    --------
    >>> blurriness(np.zeros((8, 8), np.uint8))
    (0.0, 3.992179855667828)
    """
    gray = images.check_pixels(gray, "gray levels", bands=(1,))
    size = _blur_size(*gray.shape)
    thumb = gray if size is None else _resized(gray, size, Image.Resampling.BICUBIC,
                                                BLUR_REDUCING_GAP)
    counts = np.bincount(thumb.ravel(), minlength=256)
    return float(_edges(thumb).std()), float(counts.std())


def perceptual_hash(gray: np.ndarray, hash_size: int = 8) -> str:
    """DCT perceptual hash, as ``imagehash.phash`` (cleanvision's near-duplicate key).

    The gray image is resized to ``4 hash_size`` square with Pillow's Lanczos filter
    (reproduced exactly, and faster, by :func:`eda_lib.measure.resample.resize`);
    the top-left ``hash_size x hash_size`` block of its 2-D DCT-II is compared with its
    median; the bits, row by row, are written as hex (``hash_size**2 / 4`` digits).

    Parameters
    ----------
    gray : numpy.ndarray
        (H, W) uint8 gray image (see :func:`to_gray`).
    hash_size : int
        Side of the bit block; cleanvision uses 8 (64 bits).
    """
    gray = images.check_pixels(gray, "gray levels", bands=(1,))
    if hash_size < 2:
        raise ConfigError(f"hash_size is {hash_size}, expected an int >= 2 (cleanvision "
                          "uses 8)", key="hash_size")
    return _perceptual_hash(gray, hash_size)[0]


def _perceptual_hash(gray: np.ndarray, hash_size: int = 8, like: resample.Resized | None = None,
                     changed: np.ndarray | None = None) -> tuple[str, resample.Resized]:
    """:func:`perceptual_hash` and its thumbnail, resized reusing ``like`` (the thumbnail
    of gray levels that differ from ``gray`` in the ``changed`` rows only)."""
    side = 4 * hash_size
    thumb = resample.resize_reusing(gray, (side, side), Image.Resampling.LANCZOS, like, changed)
    small = thumb.pixels.astype(np.float64)
    dct = scipy.fft.dct(scipy.fft.dct(small, axis=0), axis=1)[:hash_size, :hash_size]
    bits = "".join("1" if b else "0" for b in (dct > np.median(dct)).ravel())
    return f"{int(bits, 2):0{-(-len(bits) // 4)}x}", thumb


def pixel_hash(pixels: np.ndarray) -> str:
    """SHA-1 hex digest of the shape, dtype and bytes of the pixels (exact-duplicate key).

    The bytes are hashed in blocks of whole rows (:data:`HASH_BLOCK_BYTES` or one row,
    whichever is more), and the hash is the SHA-1 of ``"{shape}|{dtype}|"`` followed by
    the blocks' 20-byte SHA-1 digests: a near copy of an image then needs only its
    changed blocks hashed (see :func:`score_pair`). Stable across runs and machines;
    equal only for arrays equal in shape and values.

    Examples
    --------
    >>> pixel_hash(np.zeros((1, 1), np.uint8))
    '55c783fd1ad474c22fe3067e597b2ca9a57fc0ba'
    """
    return _pixel_hash(np.ascontiguousarray(pixels))[0]


HASH_BLOCK_BYTES = 1 << 20
"""Bytes of pixels (whole rows) per block of :func:`pixel_hash`."""


def _hash_rows(a: np.ndarray) -> int:
    """Rows per block of :func:`pixel_hash`."""
    row_bytes = a.nbytes // a.shape[0] if a.ndim and a.shape[0] else a.nbytes
    return max(1, HASH_BLOCK_BYTES // max(1, row_bytes))


def _pixel_hash(a: np.ndarray, like: list[bytes] | None = None,
                changed: np.ndarray | None = None) -> tuple[str, list[bytes]]:
    """:func:`pixel_hash` of C-contiguous ``a`` and its block digests; with ``like``
    (the block digests of an array of the same shape and dtype) and ``changed`` (the
    rows where the two differ), the other blocks' digests are taken from ``like``."""
    digest = hashlib.sha1(f"{a.shape}|{a.dtype.str}|".encode())
    rows = _hash_rows(a)
    dirty = None if like is None or changed is None else set((changed // rows).tolist())
    blocks = [a[y:y + rows] for y in range(0, a.shape[0], rows)] if a.ndim else [a]
    digests = []
    for i, block in enumerate(blocks):
        d = like[i] if dirty is not None and i not in dirty else hashlib.sha1(block).digest()
        digests.append(d)
        digest.update(d)
    return digest.hexdigest(), digests


# --------------------------------------------------------------------------- scores


def merged_thresholds(thresholds: Mapping[str, Mapping[str, float | None]] | None = None
                      ) -> dict[str, dict[str, float | None]]:
    """:data:`DEFAULTS` with the user's values merged over them (new dicts).

    Parameters
    ----------
    thresholds : mapping, optional
        ``{issue: {parameter: value}}``, e.g. ``{"dark": {"threshold": 0.2}}``.

    Raises
    ------
    ConfigError
        For an unknown issue or parameter, or a value that is not a number (``None``
        only for ``odd_size.threshold``).

    Examples
    --------
    >>> merged_thresholds({"dark": {"threshold": 0.2}})["dark"]
    {'threshold': 0.2}
    """
    merged = {issue: dict(params) for issue, params in DEFAULTS.items()}
    for issue, params in (thresholds or {}).items():
        if issue not in DEFAULTS:
            raise ConfigError(f"unknown image health issue {issue!r}: known issues are "
                              f"{', '.join(DEFAULTS)}", key=issue)
        for name, value in params.items():
            key = f"{issue}.{name}"
            if name not in DEFAULTS[issue]:
                known = ", ".join(DEFAULTS[issue]) or "none"
                raise ConfigError(f"unknown parameter {key!r}: parameters of {issue!r} are "
                                  f"{known}", key=key)
            nullable = key == "odd_size.threshold"
            if not (isinstance(value, (int, float)) and not isinstance(value, bool)
                    or (value is None and nullable)):
                raise ConfigError(f"{key} is {value!r}, expected a number"
                                  + (" or None (automatic)" if nullable else ""), key=key)
            merged[issue][name] = value
    return merged


def _image_issue_scores(raw: Mapping, params: Mapping[str, Mapping]) -> dict:
    """Per-image scores from raw values (scalars, or columns of a table)."""
    blurry, info = params["blurry"], params["low_information"]
    blur = 1 - np.exp(-blurry["normalizing_factor"] * raw["blurriness"])
    spread = 1 - np.exp(-blurry["normalizing_factor"] * raw["blurriness_grayscale_std"])
    spread = np.where(spread > blurry["color_threshold"], spread, 0.0)
    return {
        "dark_score": raw["brightness_perc_99"],
        "light_score": 1 - raw["brightness_perc_5"],
        "low_information_score": np.minimum(info["normalizing_factor"] * raw["entropy"], 1.0),
        "blurry_score": np.minimum(blur + spread, 1.0),
        "odd_aspect_ratio_score": raw["aspect_ratio"],
    }


def image_scores(pixels: np.ndarray) -> dict:
    """Every per-image health value of one image, in one call.

    Parameters
    ----------
    pixels : numpy.ndarray
        uint8 (H, W), (H, W, 2), (H, W, 3) or (H, W, 4), as decoded.

    Returns
    -------
    dict
        The raw values of :data:`RAW_COLUMNS` and the per-image scores with the default
        parameters (``dark_score``, ``light_score``, ``low_information_score``,
        ``blurry_score``, ``odd_aspect_ratio_score``); see the module table.
        :func:`flag_issues` recomputes the scores with the user's parameters.

    Raises
    ------
    ImageError
        See :func:`eda_lib.dataset.images.check_pixels`.
    """
    return _measure(images.check_pixels(pixels))[0]


def score_pair(first: np.ndarray, second: np.ndarray) -> tuple[dict, dict]:
    """:func:`image_scores` of two near copies: a forged image and its authentic twin.

    The two are the same picture except where the forgery was pasted. When they have
    the same height and width, are both in colour (RGB or RGBA, in any mix) and differ
    in at most half their rows, ``second`` is measured from ``first``: its band
    histograms, gray levels, brightness keys, perceptual-hash thumbnail (first pass)
    and, with the same bands, pixel-hash row blocks are those of ``first`` corrected
    on the rows where the two differ; the blur thumbnail and the percentile lookups
    are redone in full. Otherwise each image is measured alone. Either way the values
    are exactly those of :func:`image_scores` on each image.

    Parameters
    ----------
    first, second : numpy.ndarray
        uint8 (H, W), (H, W, 2), (H, W, 3) or (H, W, 4), as decoded. Not modified.

    Returns
    -------
    (dict, dict)
        ``image_scores(first)`` and ``image_scores(second)``.

    Raises
    ------
    ImageError
        See :func:`eda_lib.dataset.images.check_pixels`.
    """
    a = images.check_pixels(first, "first")
    b = images.check_pixels(second, "second")
    row, work = _measure(a)
    return row, _measure(b, work, _changed_rows(a, b))[0]


@dataclass(frozen=True)
class _Work:
    """What measuring an image leaves that a near copy of it can reuse."""

    pixels: np.ndarray  # uint8, as checked
    gray: np.ndarray  # Pillow's "L" of the pixels
    band_counts: np.ndarray  # (bands, 256) int64
    thumb: resample.Resized  # the perceptual hash's
    hash_blocks: list[bytes]  # the pixel hash's block digests
    keys: _BrightnessKeys | None  # the brightness keys of a colour image


def _measure(a: np.ndarray, like: _Work | None = None, changed: np.ndarray | None = None
             ) -> tuple[dict, _Work]:
    """:func:`image_scores` of checked ``a``, and its :class:`_Work`.

    With ``like`` (the work of an image of the same height and width, both in colour)
    and ``changed`` (the sorted rows where that image differs from ``a``, as
    :func:`_changed_rows` finds them; None to measure ``a`` alone), ``like``'s work is
    corrected on those rows instead of done again (see :func:`score_pair`). ``like``
    is not modified.
    """
    h, w = a.shape[:2]
    near = like is not None and changed is not None
    band_counts = _patched_counts(like, a, changed) if near else _band_counts(a)
    gray_like = _is_gray(a, band_counts)
    gray = _patched_gray(like, a, changed) if near else _gray(a, gray_like)
    keys = None
    if not gray_like:
        keys = like.keys.patched(a, changed) if near and like.keys is not None \
            else _BrightnessKeys(a)
    perc_5, perc_99 = _brightness_percentiles(a, gray_like, (5, 99), band_counts, keys)
    blur, spread = blurriness(gray)
    phash, thumb = _perceptual_hash(gray, 8, like.thumb if near else None, changed)
    same_layout = near and like.pixels.shape == a.shape
    pixel_hash_, hash_blocks = _pixel_hash(a, like.hash_blocks if same_layout else None,
                                           changed)
    raw = {
        "brightness_perc_5": perc_5,
        "brightness_perc_99": perc_99,
        "entropy": _entropy(band_counts),
        "blurriness": blur,
        "blurriness_grayscale_std": spread,
        "aspect_ratio": aspect_ratio(h, w),
        "size": math.sqrt(w) * math.sqrt(h),
        "grayscale": gray_like,
        "pixel_hash": pixel_hash_,
        "phash": phash,
    }
    scores = _image_issue_scores(raw, DEFAULTS)
    values = raw | {name: float(value) for name, value in scores.items()}
    return values, _Work(a, gray, band_counts, thumb, hash_blocks, keys)


# --------------------------------------------------------------------------- near copies


def _changed_rows(first: np.ndarray, a: np.ndarray) -> np.ndarray | None:
    """Sorted indices of the rows where ``a`` differs from ``first`` (in every band when
    both have the same bands, else in colour), or None when ``a`` is to be measured
    alone: other height or width, either image not in colour, or more than half the
    rows differing."""
    h, w = a.shape[:2]
    if first.shape[:2] != (h, w) or _bands(a) < 3 or _bands(first) < 3:
        return None
    same_bands = _bands(a) == _bands(first)
    rows = max(1, _CHUNK_PIXELS // w)
    changed = []
    for y in range(0, h, rows):
        x, z = first[y:y + rows], a[y:y + rows]
        if not same_bands:
            x, z = _colour(x), _colour(z)
        d = cv2.absdiff(x.reshape(len(x), -1), z.reshape(len(z), -1))
        if cv2.countNonZero(d):
            changed.append(y + np.flatnonzero(d.max(axis=1)))  # (cv2.reduce is slow)
    out = np.concatenate(changed) if changed else np.empty(0, np.intp)
    return out if out.size * 2 <= h else None


def _colour(block: np.ndarray) -> np.ndarray:
    """The RGB bands of an RGB or RGBA block, C-contiguous."""
    return cv2.cvtColor(block, cv2.COLOR_RGBA2RGB) if _bands(block) == 4 else block


def _patched_counts(like: _Work, a: np.ndarray, changed: np.ndarray) -> np.ndarray:
    """Band histograms of ``a``: those of ``like`` corrected on the changed rows, and
    counted afresh for an alpha band when only one of the two images has one."""
    bands = _bands(a)
    shared = bands if _bands(like.pixels) == bands else 3
    counts = np.empty((bands, 256), np.int64)
    counts[:shared] = like.band_counts[:shared]
    if changed.size:
        old, new = like.pixels[changed], a[changed]
        for band in range(shared):
            counts[band] += _histogram(new, band, 256) - _histogram(old, band, 256)
    for band in range(shared, bands):
        counts[band] = _histogram(a, band, 256)
    return counts


def _patched_gray(like: _Work, a: np.ndarray, changed: np.ndarray) -> np.ndarray:
    """Pillow's gray levels of ``a``: those of ``like``, converted again on the changed
    rows (Pillow's conversion is pixel by pixel)."""
    gray = like.gray.copy()
    if changed.size:
        gray[changed] = _gray(np.ascontiguousarray(a[changed]), False)
    return gray


# --------------------------------------------------------------------------- dataset step


def _odd_size_scores(size: pd.Series, iqr_factor: float) -> tuple[pd.Series, float]:
    """cleanvision's odd-size score and its automatic threshold.

    With quartiles ``q1, q3`` of the sizes, the band is ``[q1 - f iqr, q3 + f iqr]``;
    the score is ``1 - clip(|size - middle| / width, 0, 1)`` (threshold 0.5: outside
    the band), or, when the band has zero width, ``1 - clip(|size - middle| / middle)``
    (threshold 1.0: any other size).
    """
    if size.notna().sum() == 0:
        return pd.Series(np.nan, index=size.index), 0.5
    q1, q3 = np.nanpercentile(size, [25, 75])
    low, high = q1 - iqr_factor * (q3 - q1), q3 + iqr_factor * (q3 - q1)
    middle, width = (low + high) / 2, high - low
    norm, threshold = (width, 0.5) if width > 0 else (middle, 1.0)
    return 1 - ((size - middle).abs() / norm).clip(0, 1), threshold


def _duplicate_sets(scores: pd.DataFrame) -> dict[str, list[np.ndarray]]:
    """Positions of the sets of two or more images with equal ``pixel_hash`` (exact) or
    ``phash`` (near), each kind in order of first member.

    As cleanvision: images are grouped by equal hash strings, and a near set made of
    exactly the images of an exact set is dropped.
    """
    exact = _equal_key_sets(scores["pixel_hash"])
    exact_members = {frozenset(s.tolist()) for s in exact}
    near = [s for s in _equal_key_sets(scores["phash"])
            if frozenset(s.tolist()) not in exact_members]
    return {"exact_duplicates": exact, "near_duplicates": near}


def _equal_key_sets(key: pd.Series) -> list[np.ndarray]:
    codes, _ = pd.factorize(key)  # missing keys get -1; codes follow first appearance
    sizes = np.bincount(codes + 1)[codes + 1]
    members = np.flatnonzero((codes >= 0) & (sizes > 1))
    members = members[np.argsort(codes[members], kind="stable")]
    starts = np.flatnonzero(np.diff(codes[members], prepend=-2))
    return np.split(members, starts[1:]) if len(members) else []


def _set_scores(n: int, sets: list[np.ndarray]) -> np.ndarray:
    score = np.ones(n)
    for s in sets:
        score[s] = 1.0 / len(s)
    return score


def flag_issues(scores: pd.DataFrame,
                thresholds: Mapping[str, Mapping[str, float | None]] | None = None
                ) -> pd.DataFrame:
    """Dataset step: every issue's score and flag, one row per image.

    Parameters
    ----------
    scores : pandas.DataFrame
        One row per image with the :data:`RAW_COLUMNS` of :func:`image_scores`. Rows
        with missing values (images that could not be measured) are never flagged.
    thresholds : mapping, optional
        Overrides of :data:`DEFAULTS`, e.g. ``{"blurry": {"threshold": 0.4}}``.

    Returns
    -------
    pandas.DataFrame
        Same index; the columns of ``scores`` other than scores and flags, then for each
        issue of :data:`ISSUES` ``<issue>_score`` (float) and ``is_<issue>_issue`` (bool).

    Raises
    ------
    KeyError
        When a raw column is missing.
    ConfigError
        See :func:`merged_thresholds`.
    """
    params = merged_thresholds(thresholds)
    missing = [c for c in RAW_COLUMNS if c not in scores.columns]
    if missing:
        raise KeyError(f"scores have no column(s) {missing}: build the rows with "
                       "eda_lib.measure.health.image_scores")
    issue_scores, limits = _dataset_scores(scores, params)
    generated = {f"{i}_score" for i in ISSUES} | {f"is_{i}_issue" for i in ISSUES}
    out = scores.drop(columns=[c for c in scores.columns if c in generated])
    for issue in ISSUES:
        out[f"{issue}_score"] = issue_scores[issue]
        out[f"is_{issue}_issue"] = issue_scores[issue] < limits[issue]  # NaN: False
    return out


def _dataset_scores(scores: pd.DataFrame, params: Mapping[str, Mapping]
                    ) -> tuple[dict[str, pd.Series], dict[str, float]]:
    """Every issue's score column, and the limit below which an image has the issue.

    Grayscale and duplicate scores are 1 for an image without the issue, so their
    limit is 1 (cleanvision flags grayscale at score 0 and duplicates below 1).
    """
    per_image = _image_issue_scores(scores, params)
    out = {name.removesuffix("_score"): pd.Series(value, index=scores.index, dtype=float)
           for name, value in per_image.items()}
    out["grayscale"] = scores["grayscale"].map({True: 0.0, False: 1.0}).astype(float)
    out["odd_size"], size_limit = _odd_size_scores(scores["size"].astype(float),
                                                   params["odd_size"]["iqr_factor"])
    for issue, sets in _duplicate_sets(scores).items():
        out[issue] = pd.Series(_set_scores(len(scores), sets), index=scores.index)
    limits = {issue: params[issue].get("threshold", 1.0) for issue in ISSUES}
    if limits["odd_size"] is None:
        limits["odd_size"] = size_limit
    return out, limits


def duplicate_groups(scores: pd.DataFrame) -> pd.DataFrame:
    """One row per image in a duplicate set.

    Parameters
    ----------
    scores : pandas.DataFrame
        With ``pixel_hash`` and ``phash`` columns (see :func:`image_scores`).

    Returns
    -------
    pandas.DataFrame
        ``image`` (the row's label in ``scores.index``), ``kind`` (``"exact"`` or
        ``"near"``) and ``group`` (int, unique over both kinds: exact sets first, each
        kind in order of first member). Empty, with these columns, when there is none.
    """
    sets = _duplicate_sets(scores)
    labelled = [("exact", s) for s in sets["exact_duplicates"]]
    labelled += [("near", s) for s in sets["near_duplicates"]]
    sizes = [len(members) for _, members in labelled]
    positions = (np.concatenate([members for _, members in labelled]) if labelled
                 else np.zeros(0, dtype=np.int64))
    out = pd.DataFrame({
        "image": scores.index[positions],
        "kind": np.repeat(np.array([kind for kind, _ in labelled], dtype=object), sizes),
        "group": np.repeat(np.arange(len(labelled), dtype=np.int64), sizes),
    })
    return out.astype({"image": scores.index.dtype, "kind": "str", "group": "int64"})
