import math

import cv2
import numpy as np
import pytest

from eda_lib.measure.instances import bbox, compactness, count_components, instance_metrics


def test_rectangle_metrics():
    m = np.zeros((10, 20), bool)
    m[2:5, 3:11] = True  # 3 rows x 8 cols
    r = instance_metrics(m)
    assert r["area_px"] == 24
    assert r["area_frac"] == pytest.approx(24 / 200)
    assert (r["x1"], r["y1"], r["x2"], r["y2"]) == (3, 2, 10, 4)
    assert (r["bbox_w"], r["bbox_h"]) == (8, 3)
    assert r["aspect"] == pytest.approx(8 / 3)
    assert r["bbox_fill"] == 1.0
    assert r["n_components"] == 1


def test_two_components_and_diagonal_touch():
    m = np.zeros((10, 10), bool)
    m[0:2, 0:2] = True
    m[5:7, 5:7] = True
    assert count_components(m) == 2
    m[2, 2] = True  # touches the first block diagonally: 8-connected, still 2 apart from 5:7
    assert count_components(m) == 2
    m[3:5, 3:5] = True
    assert count_components(m) == 1


def test_empty_mask():
    r = instance_metrics(np.zeros((4, 4), bool))
    assert r["area_px"] == 0 and r["n_components"] == 0
    assert r["x1"] is None and math.isnan(r["compactness"])
    assert bbox(np.zeros((3, 3), bool)) is None


@pytest.mark.parametrize("radius", [10, 40, 150])
def test_compactness_disc_near_one(radius):
    m = np.zeros((2 * radius + 9, 2 * radius + 9), np.uint8)
    cv2.circle(m, (radius + 4, radius + 4), radius, 1, -1)
    c = instance_metrics(m.astype(bool))["compactness"]
    assert 0.9 < c <= 1.0


def test_compactness_orders_shapes_and_stays_in_unit_interval():
    disc = np.zeros((120, 120), np.uint8)
    cv2.circle(disc, (60, 60), 50, 1, -1)
    line = np.zeros((120, 120), bool)
    line[60:62, 5:115] = True
    ring = disc.astype(bool).copy()
    ring[20:100, 20:100] = False
    values = [instance_metrics(x.astype(bool))["compactness"] for x in (disc, ring, line)]
    assert values[0] > values[1] > values[2] > 0
    for size in range(1, 6):  # tiny shapes are clipped into (0, 1]
        m = np.ones((size, size), bool)
        assert 0 < instance_metrics(m)["compactness"] <= 1


def test_compactness_formula():
    assert compactness(math.pi * 25, 10 * math.pi) == pytest.approx(1.0)
    assert math.isnan(compactness(0, 0))


def test_mask_touching_border():
    m = np.ones((5, 7), bool)
    r = instance_metrics(m)
    assert (r["x1"], r["y1"], r["x2"], r["y2"]) == (0, 0, 6, 4)
    assert r["area_frac"] == 1.0
