"""Per-instance shape measurements: area, bounding box, components, compactness.

All functions take boolean (H, W) arrays; none reads files.

Compactness is the isoperimetric quotient ``4*pi*A / P**2``: 1 for a disc, pi/4 for
a square in the continuous plane, small for thin or ragged shapes. ``A`` is the
pixel count and ``P`` the boundary length of the pixel set: the length of its
8-connected contours through boundary pixel centres, scaled by Kulpa's factor
(:data:`KULPA`, which makes chain length unbiased over edge orientations), plus
``pi`` per outer contour and minus ``pi`` per hole (the Steiner formula for the
half-pixel offset between pixel centres and pixel edges). With these, a digitised
disc scores about 0.92 at radius 10 and 0.99 from radius 50; an axis-aligned square scores about 0.87
rather than 0.785, since its straight edges are exactly the orientation the
correction shortens. Shapes of a few pixels can exceed 1 through digitisation; the
value is clipped to 1 so it always lies in (0, 1].
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from ..geometry import bbox

#: Columns of :func:`instance_metrics`, in table order.
METRIC_COLUMNS = (
    "area_px", "area_frac", "x1", "y1", "x2", "y2", "bbox_w", "bbox_h",
    "aspect", "bbox_fill", "n_components", "perimeter", "compactness",
)


#: Kulpa's correction of 8-connected chain length (pi/8 * (1 + sqrt 2)): a chain through
#: pixel centres overestimates the length of a curve by about 5.5% on average over
#: orientations, and this factor removes that bias.
KULPA = math.pi / 8 * (1 + math.sqrt(2))


def perimeter(mask: np.ndarray) -> float:
    """Boundary length of a pixel set in pixels (see the module notes)."""
    m = np.ascontiguousarray(mask, dtype=np.uint8)
    contours, hierarchy = cv2.findContours(m, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return 0.0
    total = 0.0
    for contour, link in zip(contours, hierarchy[0]):
        is_hole = link[3] >= 0
        length = KULPA * cv2.arcLength(contour, True)
        total += length + (-math.pi if is_hole else math.pi)
    return max(total, 0.0)


def count_components(mask: np.ndarray) -> int:
    """Number of 8-connected components of a boolean mask."""
    n, _ = cv2.connectedComponents(np.ascontiguousarray(mask, dtype=np.uint8), connectivity=8)
    return int(n - 1)


def compactness(area: float, perim: float) -> float:
    """Isoperimetric quotient ``4*pi*A/P**2`` clipped to (0, 1]; NaN for an empty shape.

    Examples
    --------
    >>> round(compactness(math.pi * 100, 2 * math.pi * 10), 6)
    1.0
    >>> round(compactness(100, 40), 3)
    0.785
    """
    if area <= 0 or perim <= 0:
        return float("nan")
    return min(1.0, 4.0 * math.pi * area / perim**2)


def instance_metrics(mask: np.ndarray) -> dict:
    """Shape measurements of one instance mask.

    Parameters
    ----------
    mask : (H, W) bool ndarray

    Returns
    -------
    dict
        Keys :data:`METRIC_COLUMNS`. For an empty mask ``area_px`` is 0,
        ``n_components`` is 0 and every other value is NaN (or None for the box).
    """
    mask = np.asarray(mask, dtype=bool)
    h, w = mask.shape
    box = bbox(mask)
    if box is None:
        nan = float("nan")
        return {
            "area_px": 0, "area_frac": 0.0, "x1": None, "y1": None, "x2": None, "y2": None,
            "bbox_w": None, "bbox_h": None, "aspect": nan, "bbox_fill": nan,
            "n_components": 0, "perimeter": nan, "compactness": nan,
        }
    x1, y1, x2, y2 = box
    # work on the box plus a one-pixel frame so contours never touch the border
    crop = np.pad(mask[y1 : y2 + 1, x1 : x2 + 1], 1)
    area = int(crop.sum())
    bw, bh = x2 - x1 + 1, y2 - y1 + 1
    perim = perimeter(crop)
    return {
        "area_px": area,
        "area_frac": area / (h * w),
        "x1": x1, "y1": y1, "x2": x2, "y2": y2,
        "bbox_w": bw, "bbox_h": bh,
        "aspect": bw / bh,
        "bbox_fill": area / (bw * bh),
        "n_components": count_components(crop),
        "perimeter": perim,
        "compactness": compactness(area, perim),
    }
