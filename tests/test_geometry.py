"""Tests of eda_lib.geometry: boxes, and the one table of flips and rotations.

The index formulas below are written out independently of the table (a deliberate test
oracle): the copy-move analysis and the demo generator share the table, so only an
outside definition can catch a wrong entry.
"""

from __future__ import annotations

import numpy as np
import pytest

from eda_lib.errors import ConfigError
from eda_lib.geometry import LINEAR_PARTS, SWAPS_AXES, TRANSFORMS, apply_transform, bbox, inverse_transform

#: b = f(a) as index formulas: b[i, j] = a[ORACLE[name](i, j, H, W)], with (H, W) of a.
ORACLE = {
    "identity": lambda i, j, h, w: (i, j),
    "flip_h": lambda i, j, h, w: (i, w - 1 - j),
    "flip_v": lambda i, j, h, w: (h - 1 - i, j),
    "rot90": lambda i, j, h, w: (j, w - 1 - i),
    "rot180": lambda i, j, h, w: (h - 1 - i, w - 1 - j),
    "rot270": lambda i, j, h, w: (h - 1 - j, i),
    "transpose": lambda i, j, h, w: (j, i),
    "anti_transpose": lambda i, j, h, w: (h - 1 - j, w - 1 - i),
}


def test_the_table_has_the_eight_symmetries_in_order():
    assert list(TRANSFORMS) == list(ORACLE)


@pytest.mark.parametrize("name", list(ORACLE))
def test_each_transform_follows_its_index_formula(name):
    h, w = 3, 5
    a = np.arange(h * w * 2).reshape(h, w, 2)
    b = apply_transform(a, name)
    assert (b.shape[:2] == (w, h)) == (name in SWAPS_AXES)
    for i in range(b.shape[0]):
        for j in range(b.shape[1]):
            assert (b[i, j] == a[ORACLE[name](i, j, h, w)]).all(), (name, i, j)


@pytest.mark.parametrize("name", list(ORACLE))
def test_each_linear_part_moves_points_as_the_index_formula(name):
    """A source pixel (x, y) lands at ``LINEAR_PARTS[name] @ (x, y)`` plus one translation
    for the whole array, read here from the index formulas, not from TRANSFORMS."""
    h, w = 3, 5
    out_h, out_w = (w, h) if name in SWAPS_AXES else (h, w)
    lin = LINEAR_PARTS[name]
    moves = set()
    for i in range(out_h):
        for j in range(out_w):
            si, sj = ORACLE[name](i, j, h, w)  # target (row i, column j) shows source (si, sj)
            x, y = lin @ np.array([sj, si])
            moves.add((j - int(x), i - int(y)))
    assert len(moves) == 1, (name, moves)
    assert abs(round(np.linalg.det(lin))) == 1 and set(np.unique(lin)) <= {-1, 0, 1}


@pytest.mark.parametrize("name", list(ORACLE))
def test_inverse_undoes_each_transform(name):
    a = np.arange(12).reshape(3, 4)
    assert (apply_transform(apply_transform(a, name), inverse_transform(name)) == a).all()


def test_unknown_transform_names_the_known_ones():
    with pytest.raises(ConfigError, match="rot45.*identity, flip_h"):
        apply_transform(np.zeros((2, 2)), "rot45")
    with pytest.raises(ConfigError, match="rot45"):
        inverse_transform("rot45")


def test_bbox_is_inclusive_and_none_when_empty():
    m = np.zeros((5, 6), bool)
    assert bbox(m) is None
    m[4, 0] = m[1, 3] = True
    assert bbox(m) == (0, 1, 3, 4)
