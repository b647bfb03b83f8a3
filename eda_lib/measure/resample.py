"""Pillow's 8-bit resize, reproduced exactly as two matrix products.

cleanvision's near-duplicate key (``imagehash.phash``) shrinks the full-size gray image
to 32 x 32 with Pillow's Lanczos filter. Pillow computes each output pixel as an
integer dot product over a window of about ``6 W / 32`` input pixels, one pixel at a
time; that is most of the hash's cost. :func:`resize` computes the same integers
with BLAS, so its output equals Pillow's bit for bit, in less than half the time
(about 1 ns per input pixel against 2.3 to 4 ns, one thread).

Pillow's algorithm (``libImaging/Resample.c``, Pillow 13), for each axis that changes
size:

1. Coefficients. Output ``i`` of ``n_out`` is centred at ``(i + 0.5) * scale`` with
   ``scale = n_in / n_out``; the filter, stretched by ``max(scale, 1)``, is evaluated
   in double precision at the input pixels ``x`` with ``|x + 0.5 - centre| < support``
   (window ends rounded half up and clipped to the image), normalised to sum to 1, and
   rounded half away from zero to integers with 22 fractional bits.
2. Two passes, one per axis: each output is the sum of its window's pixels times the
   coefficients, plus ``2**21``, shifted right by 22 and clipped to [0, 255] (so the
   intermediate image is 8-bit too). The horizontal pass runs first, over the input
   rows the vertical pass will read, unless the height shrinks by more than twice as
   many pixels as the width: then the vertical pass runs first.

Here the coefficients are computed with the same double-precision operations in the
same order (``math.sin`` is the C library's ``sin``, as in Pillow), and each pass is a
float64 matrix product: every product and partial sum is an integer below ``2**31``,
so the result is exact whatever order BLAS adds in. :func:`resize_reusing` also
returns the horizontal pass, so that a near copy of the image (an authentic twin and
its forgery) passes only the rows where the two differ.
"""
from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from PIL import Image

from ..dataset import images

__all__ = ["FILTERS", "Resized", "resize", "resize_reusing"]

_PRECISION_BITS = 22  # Pillow's 8-bit fixed point: 32 - 8 - 2
_HALF = float(1 << (_PRECISION_BITS - 1))
_ONE = float(1 << _PRECISION_BITS)

FILTERS = {Image.Resampling.LANCZOS: 3.0, Image.Resampling.BICUBIC: 2.0}
"""The filters :func:`resize` reproduces, with their support (in input pixels at
scale 1)."""

_PIXELS_PER_COEFFICIENT = 400
"""An axis's coefficients cost about 0.6 us per input pixel to compute, once; the
matrix route saves 1.3 to 3 ns per image pixel. So :func:`resize` computes them for an
image of at least this many pixels per new input pixel, or for a size it has seen
before, and otherwise lets Pillow resize."""

_BLOCK = 1 << 17
"""Input pixels per block of a pass, converted to float64 together (1 MB)."""

_OUTPUTS_PER_GROUP = 8
"""Consecutive outputs whose windows are multiplied together: the product skips the
zeros outside each group's span, so it does about ``(1 + 6 / 8)`` times Pillow's
multiplications instead of ``32 / 6`` times."""


def _lanczos(x: np.ndarray) -> np.ndarray:
    """Pillow's ``lanczos_filter`` (``sinc(x) sinc(x / 3)`` on [-3, 3), else 0)."""
    return np.where((-3.0 <= x) & (x < 3.0), _sinc(x) * _sinc(x / 3), 0.0)


def _bicubic(x: np.ndarray) -> np.ndarray:
    """Pillow's ``bicubic_filter`` (Keys' cubic with ``a = -0.5``)."""
    a = -0.5
    x = np.abs(x)
    near = ((a + 2.0) * x - (a + 3.0)) * x * x + 1
    far = (((x - 5) * x + 8) * x - 4) * a
    return np.where(x < 1.0, near, np.where(x < 2.0, far, 0.0))


def _sinc(x: np.ndarray) -> np.ndarray:
    """``sin(pi x) / (pi x)`` with the C library's ``sin``, as Pillow; 1 at 0."""
    px = x * math.pi
    sin = np.fromiter(map(math.sin, px.tolist()), np.float64, count=px.size)
    out = np.ones_like(px)
    np.divide(sin, px, out=out, where=x != 0.0)
    return out


_KERNELS = {Image.Resampling.LANCZOS: _lanczos, Image.Resampling.BICUBIC: _bicubic}


class _Axis(NamedTuple):
    """Integer coefficients of one axis, as dense float64 matrices over output groups."""

    first: int  # first input pixel any output uses
    last: int  # one past the last
    groups: tuple[tuple[int, int, int, int, np.ndarray], ...]  # (o0, o1, x0, x1, (x1-x0, o1-o0))


_AXES: dict[tuple[int, int, Image.Resampling], _Axis] = {}
_SEEN: set[tuple[int, int, int, int, Image.Resampling]] = set()
_MAX_ENTRIES = 1024


def _cached_axes(h: int, w: int, height: int, width: int,
                 resample: Image.Resampling) -> tuple[_Axis | None, _Axis | None] | None:
    """Coefficients of the axes that change (None for one that does not), or None when
    computing them would cost more than Pillow's resize (see
    :data:`_PIXELS_PER_COEFFICIENT`)."""
    keys = [(n_in, n_out, resample) for n_in, n_out in ((h, height), (w, width))]
    new = sum(key[0] for key in keys if key[0] != key[1] and key not in _AXES)
    size = (h, w, height, width, resample)
    if new and h * w < _PIXELS_PER_COEFFICIENT * new and size not in _SEEN:
        if len(_SEEN) >= _MAX_ENTRIES:
            _SEEN.clear()
        _SEEN.add(size)
        return None
    if len(_AXES) >= _MAX_ENTRIES:
        _AXES.clear()
    for key in keys:
        if key[0] != key[1] and key not in _AXES:
            _AXES[key] = _axis(*key)
    return tuple(_AXES[key] if key[0] != key[1] else None for key in keys)


def _axis(n_in: int, n_out: int, resample: Image.Resampling) -> _Axis:
    """Pillow's ``precompute_coeffs`` and ``normalize_coeffs_8bpc`` for one axis."""
    scale = n_in / n_out  # Pillow: (double)(in1 - in0) / outSize, exact for image sizes
    filterscale = max(scale, 1.0)
    support = FILTERS[resample] * filterscale
    ksize = math.ceil(support) * 2 + 1
    centre = (np.arange(n_out) + 0.5) * scale
    # C's (int) cast truncates toward zero; a negative start is then clipped to 0
    lo = np.maximum(np.trunc(centre - support + 0.5), 0).astype(np.int64)
    count = np.minimum(np.trunc(centre + support + 0.5), n_in).astype(np.int64) - lo
    x = lo[:, None] + np.arange(ksize)
    inside = np.arange(ksize) < count[:, None]
    w = np.zeros((n_out, ksize))
    w[inside] = _KERNELS[resample](((x - centre[:, None]) + 0.5)[inside] * (1.0 / filterscale))
    ww = np.zeros(n_out)
    for column in w.T:  # each window summed left to right, as Pillow does
        ww += column
    w = np.divide(w, ww[:, None], out=w, where=ww[:, None] != 0.0)
    k = np.trunc(np.where(w < 0, -0.5, 0.5) + w * _ONE) * inside
    groups = []
    for o0 in range(0, n_out, _OUTPUTS_PER_GROUP):
        o1 = min(o0 + _OUTPUTS_PER_GROUP, n_out)
        x0, x1 = int(lo[o0:o1].min()), int((lo + count)[o0:o1].max())
        m = np.zeros((x1 - x0, o1 - o0))
        for o in range(o0, o1):
            m[lo[o] - x0:lo[o] + count[o] - x0, o - o0] = k[o, :count[o]]
        groups.append((o0, o1, x0, x1, m))
    return _Axis(int(lo.min()), int((lo + count).max()), tuple(groups))


def resize(gray: np.ndarray, size: tuple[int, int],
           resample: Image.Resampling = Image.Resampling.LANCZOS) -> np.ndarray:
    """``Image.fromarray(gray).resize(size, resample)`` as an array, bit for bit.

    Parameters
    ----------
    gray : numpy.ndarray
        (H, W) uint8 image.
    size : (int, int)
        Output ``(width, height)``, as Pillow's.
    resample : PIL.Image.Resampling
        A filter of :data:`FILTERS`.

    Returns
    -------
    numpy.ndarray
        (height, width) uint8.

    Examples
    --------
    >>> g = np.arange(64 * 80, dtype=np.uint8).reshape(64, 80)
    >>> pillow = np.asarray(Image.fromarray(g).resize((8, 8), Image.Resampling.LANCZOS))
    >>> bool((resize(g, (8, 8)) == pillow).all())
    True
    """
    return resize_reusing(gray, size, resample).pixels


class Resized(NamedTuple):
    """A :func:`resize_reusing` result: the image, and what a near copy can reuse."""

    pixels: np.ndarray  # (height, width) uint8
    rows: np.ndarray | None  # the horizontal pass, one row per input row it covers
    key: tuple  # (input height, input width, output size, filter)


def resize_reusing(gray: np.ndarray, size: tuple[int, int],
                   resample: Image.Resampling = Image.Resampling.LANCZOS,
                   like: Resized | None = None, changed: np.ndarray | None = None
                   ) -> Resized:
    """:func:`resize`, reusing the horizontal pass of a near copy of ``gray``.

    When Pillow runs the horizontal pass first, each of its output rows depends on one
    input row only. Given ``like`` (this function's result for an image of the same
    size and filter) and ``changed`` (the sorted rows where that image differs from
    ``gray``), only the changed rows go through the horizontal pass again.
    """
    gray = images.check_pixels(gray, "gray", bands=(1,))
    if resample not in FILTERS:
        raise ValueError(f"resample {resample!r} is not one of {sorted(FILTERS)}")
    width, height = size
    h, w = gray.shape
    key = (h, w, (width, height), resample)
    axes = _cached_axes(h, w, height, width, resample) if (width, height) != (w, h) else None
    if axes is None:
        return Resized(np.asarray(Image.fromarray(gray).resize(size, resample)), None, key)
    if like is not None and like.key != key:
        like = None
    rows, columns = axes
    out: np.ndarray = gray
    first, passed = 0, None
    if h - height > 0 and h - height > (w - width) * 2:  # Pillow: vertical pass first
        if rows is not None:
            out = _vertical(out, rows, 0)
        if columns is not None:
            out = _horizontal(out, columns)
    else:
        if columns is not None:
            if rows is not None:  # only the input rows the vertical pass reads
                out, first = out[rows.first:rows.last], rows.first
            passed = out = _horizontal_reusing(out, columns, first, like, changed)
        if rows is not None:
            out = _vertical(out, rows, first)
    return Resized(out.astype(np.uint8), passed, key)


def _horizontal_reusing(a: np.ndarray, axis: _Axis, first: int, like: Resized | None,
                        changed: np.ndarray | None) -> np.ndarray:
    """:func:`_horizontal` of ``a`` (input rows ``first:first + len(a)``), taken from
    ``like`` (of an image of the same size) except on the ``changed`` rows."""
    if like is None or changed is None or like.rows is None:
        return _horizontal(a, axis)
    out = like.rows.copy()
    inside = changed[(changed >= first) & (changed < first + len(a))] - first
    if inside.size:
        out[inside] = _horizontal(a[inside], axis)
    return out


def _horizontal(a: np.ndarray, axis: _Axis) -> np.ndarray:
    """Pillow's horizontal pass over every row of ``a``, in blocks of rows."""
    out = np.empty((a.shape[0], axis.groups[-1][1]))
    step = max(1, _BLOCK // a.shape[1])
    for y in range(0, a.shape[0], step):
        block = a[y:y + step].astype(np.float64, copy=False)
        for o0, o1, x0, x1, m in axis.groups:
            np.matmul(block[:, x0:x1], m, out=out[y:y + step, o0:o1])
    return _clip8(out)


def _vertical(a: np.ndarray, axis: _Axis, offset: int) -> np.ndarray:
    """Pillow's vertical pass over every column of ``a``, whose row 0 is input row
    ``offset``, in blocks of columns."""
    out = np.empty((axis.groups[-1][1], a.shape[1]))
    step = max(1, _BLOCK // a.shape[0])
    for x in range(0, a.shape[1], step):
        block = a[:, x:x + step].astype(np.float64, copy=False)
        for o0, o1, y0, y1, m in axis.groups:
            np.matmul(m.T, block[y0 - offset:y1 - offset], out=out[o0:o1, x:x + step])
    return _clip8(out)


def _clip8(sums: np.ndarray) -> np.ndarray:
    """Pillow's ``clip8``: ``(sum + 2**21) >> 22`` clipped to [0, 255] (float64 kept)."""
    return np.clip(np.floor((sums + _HALF) / _ONE), 0, 255)
