"""Boxes and the eight flips and rotations of the plane, written once for the package.

A box is ``(x1, y1, x2, y2)``, inclusive, 0-based: columns ``x1..x2`` and rows
``y1..y2`` (the tables' ``x1, y1, x2, y2`` columns). :data:`TRANSFORMS` is the one
table of the eight symmetries of a rectangle: the copy-move analysis searches them,
the demo generator applies them, the plots draw them. :data:`LINEAR_PARTS` holds each
one's 2x2 matrix in (x, y) coordinates, for the blind screen's geometric fits.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .errors import ConfigError

__all__ = ["LINEAR_PARTS", "SWAPS_AXES", "TRANSFORMS", "Box", "apply_transform", "bbox",
           "box_iou", "inverse_transform", "same_pair"]

Box = tuple[int, int, int, int]
"""Inclusive ``(x1, y1, x2, y2)``."""


def bbox(mask: np.ndarray) -> Box | None:
    """Inclusive bounding box ``(x1, y1, x2, y2)`` of the true pixels, or None.

    Examples
    --------
    >>> m = np.zeros((4, 5), bool); m[1:3, 2:5] = True
    >>> bbox(m)
    (2, 1, 4, 2)
    """
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return int(cols[0]), int(rows[0]), int(cols[-1]), int(rows[-1])


def box_iou(a: Box, b: Box) -> float:
    """Intersection over union of two inclusive boxes, in [0, 1].

    Examples
    --------
    >>> box_iou((0, 0, 1, 1), (1, 0, 2, 1))
    0.3333333333333333
    """
    iw = min(a[2], b[2]) - max(a[0], b[0]) + 1
    ih = min(a[3], b[3]) - max(a[1], b[1]) + 1
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    area = (a[2] - a[0] + 1) * (a[3] - a[1] + 1) + (b[2] - b[0] + 1) * (b[3] - b[1] + 1)
    return inter / (area - inter)


def same_pair(found: tuple[Box, Box], truth: tuple[Box, Box], min_iou: float = 0.5) -> bool:
    """Whether a found (source, target) pair of boxes is the true pair: both boxes reach
    ``min_iou`` with the true ones, either way round (without a twin, which end was
    pasted is unknown).

    Examples
    --------
    >>> same_pair(((0, 0, 9, 9), (20, 0, 29, 9)), ((20, 0, 29, 9), (1, 0, 9, 9)))
    True
    >>> same_pair(((0, 0, 9, 9), (20, 0, 29, 9)), ((0, 0, 9, 9), (50, 0, 59, 9)))
    False
    """
    (a, b), (s, t) = found, truth
    return ((box_iou(a, s) >= min_iou and box_iou(b, t) >= min_iou)
            or (box_iou(a, t) >= min_iou and box_iou(b, s) >= min_iou))


TRANSFORMS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "identity": lambda a: a,
    "flip_h": np.fliplr,
    "flip_v": np.flipud,
    "rot90": lambda a: np.rot90(a, 1),
    "rot180": lambda a: np.rot90(a, 2),
    "rot270": lambda a: np.rot90(a, 3),
    "transpose": lambda a: np.swapaxes(a, 0, 1),
    "anti_transpose": lambda a: np.rot90(np.swapaxes(a, 0, 1), 2),
}
"""The eight symmetries of a rectangle, in a fixed order, as functions of an ``(H, W)``
or ``(H, W, C)`` array; each returns a view.

Rows run top to bottom and columns left to right, as displayed. With ``b = f(a)``:

- ``identity``: ``b = a``.
- ``flip_h``: mirror left-right, ``b[i, j] = a[i, W-1-j]`` (``np.fliplr``).
- ``flip_v``: mirror top-bottom, ``b[i, j] = a[H-1-i, j]`` (``np.flipud``).
- ``rot90``: a quarter turn counter-clockwise, ``np.rot90(a, 1)``; ``b[i, j] = a[j, W-1-i]``.
- ``rot180``: a half turn, ``np.rot90(a, 2)``; ``b[i, j] = a[H-1-i, W-1-j]``.
- ``rot270``: a quarter turn clockwise, ``np.rot90(a, 3)``; ``b[i, j] = a[H-1-j, i]``.
- ``transpose``: mirror about the main diagonal, ``b[i, j] = a[j, i]``.
- ``anti_transpose``: mirror about the anti-diagonal, ``np.rot90(transpose(a), 2)``;
  ``b[i, j] = a[H-1-j, W-1-i]``.

The tests hold each entry to these index formulas, written out independently.
"""

SWAPS_AXES = frozenset({"rot90", "rot270", "transpose", "anti_transpose"})
"""The transforms that swap height and width."""

_INVERSE = {"rot90": "rot270", "rot270": "rot90"}


def _known(name: str) -> None:
    if name not in TRANSFORMS:
        raise ConfigError(
            f"unknown transform {name!r}: use one of {', '.join(TRANSFORMS)}", key="transform"
        )


def apply_transform(a: np.ndarray, name: str) -> np.ndarray:
    """Flip or rotate an array on its first two axes (a view): ``TRANSFORMS[name](a)``.

    Examples
    --------
    >>> a = np.arange(6).reshape(2, 3)
    >>> apply_transform(a, "rot90").tolist()
    [[2, 5], [1, 4], [0, 3]]
    >>> b = apply_transform(a, "rot90")
    >>> bool((apply_transform(b, inverse_transform("rot90")) == a).all())
    True
    """
    _known(name)
    return TRANSFORMS[name](a)


def inverse_transform(name: str) -> str:
    """Name of the transform that undoes ``name``.

    Examples
    --------
    >>> inverse_transform("rot90"), inverse_transform("flip_h")
    ('rot270', 'flip_h')
    """
    _known(name)
    return _INVERSE.get(name, name)


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


LINEAR_PARTS = _linear_parts()
"""The 2x2 matrix of every transform in (x, y) image coordinates: a point (x, y) of the
source lands at ``LINEAR_PARTS[name] @ (x, y)`` plus a translation."""
