"""Benchmark of two choices of eda_lib.measure.health, on the real size mix.

``brightness``
    The 5th and 99th brightness percentiles of a forged image and its twin, from the
    two-level histogram of the integer brightness keys (``health._BrightnessKeys``: the
    first image's keys counted in full, the second's patched on the rows where the two
    differ), against a plain exact selection (int32 keys by the same ``cv2.LUT`` and
    ``cv2.transform``, then ``numpy.partition`` at the ranks the percentiles need), done
    in full for each image. Both give the same numbers, which is checked.
``stats``
    The band histograms and gray levels of the first image of each pair, from the
    decoded array (what health does: ``cv2.calcHist`` per band, Pillow's
    ``convert("L")`` of the array) against from Pillow's own buffer while the file is
    decoded (``Image.histogram`` and ``convert("L")`` of the loaded image: what
    ``decode(with_stats=True)`` used to do). The second image's are patched from the
    first's either way.

The pairs are the forged images of the demo generator with a twin of the same size,
both in colour (those :func:`eda_lib.measure.health.score_pair` measures together). Each
variant runs ``--repeat`` times in this one process, the variants alternating, on one
OpenCV thread; its time is the fastest round. Decoding both images of every pair is
timed too, as the scale of the rest. The exit status is 1 when a target is missed:

- brightness: two-level / plain <= 0.8; otherwise the simpler plain selection should
  replace the two-level histogram;
- stats: (array - Pillow) / decode <= 0.05, the extra time as a share of decoding both
  images; otherwise decoding should hand Pillow's statistics over.

Usage::

    .venv/bin/python benchmarks/bench_health.py [--forged 40] [--size-scale 1.0]
        [--repeat 5] [--seed 0] [--keep DIR]
"""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from eda_lib.dataset import demo, images
from eda_lib.dataset.index import scan
from eda_lib.measure import health
from eda_lib.measure.case import group_cases

PERCENTILES = (5, 99)
TARGETS = {"brightness, two-level / plain": 0.8, "stats, (array - Pillow) / decode": 0.05}


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    cv2.setNumThreads(1)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.keep or tmp) / f"forged{args.forged}_scale{args.size_scale}_seed{args.seed}"
        if not root.is_dir():
            demo.generate(root, forged=args.forged, seed=args.seed, size_scale=args.size_scale)
        pairs = _pairs(root)
        pixels = [[images.to_uint8(images.decode(p).pixels) for p in pair] for pair in pairs]
        megapixels = sum(a.shape[0] * a.shape[1] for pair in pixels for a in pair) / 1e6
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"{root}: {len(pairs)} pairs, {megapixels:.1f} megapixels; load {load}")
        loaded = [(_loaded(first), second) for first, second in pairs]
        _check_brightness(pixels)
        best = _rounds({
            "decode": lambda: [images.decode(p) for pair in pairs for p in pair],
            "brightness, two-level": lambda: [_two_level(a, b) for a, b in pixels],
            "brightness, plain": lambda: [_plain(a) + _plain(b) for a, b in pixels],
            "stats, array": lambda: [_array_stats(a) for a, _ in pixels],
            "stats, Pillow": lambda: [_pillow_stats(image) for image, _ in loaded],
        }, args.repeat)
    for name, seconds in best.items():
        print(f"{name:<24}{seconds:8.3f} s")
    ratios = dict(zip(TARGETS, (best["brightness, two-level"] / best["brightness, plain"],
                                (best["stats, array"] - best["stats, Pillow"]) / best["decode"])))
    missed = 0
    for name, limit in TARGETS.items():
        met = ratios[name] <= limit
        missed += not met
        print(f"{name}: {ratios[name]:.2f} (target <= {limit}): {'met' if met else 'MISSED'}")
    return 1 if missed else 0


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--forged", type=int, default=40, help="forged images (default 40)")
    parser.add_argument("--size-scale", type=float, default=1.0,
                        help="size factor of the demo images (default 1.0: the real size mix)")
    parser.add_argument("--repeat", type=int, default=5, help="rounds (default 5)")
    parser.add_argument("--seed", type=int, default=0, help="demo seed (default 0)")
    parser.add_argument("--keep", metavar="DIR",
                        help="generate the dataset under DIR and keep it (reused when there)")
    return parser.parse_args(argv)


def _pairs(root: Path) -> list[tuple[Path, Path]]:
    """(authentic, forged) paths of the cases whose two images have the same size and
    are both in colour."""
    index = scan(root)
    out = []
    for case in group_cases(index):
        if len(case.images) != 2:
            continue
        paths = tuple(index.root / e.path for e in case.images)
        with Image.open(paths[0]) as first, Image.open(paths[1]) as second:
            colour = first.mode in ("RGB", "RGBA") and second.mode in ("RGB", "RGBA")
            if colour and first.size == second.size:
                out.append(paths)
    return out


def _loaded(path: Path) -> Image.Image:
    image = Image.open(path)
    image.load()
    return image


def _rounds(variants: dict[str, Callable[[], object]], repeat: int) -> dict[str, float]:
    best = dict.fromkeys(variants, math.inf)
    for _ in range(repeat):
        for name, run in variants.items():
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def _two_level(a: np.ndarray, b: np.ndarray) -> tuple[float, ...]:
    keys = health._BrightnessKeys(a)
    first = health._brightness_percentiles(a, False, PERCENTILES, keys=keys)
    changed = health._changed_rows(a, b)
    twin = keys.patched(b, changed) if changed is not None else health._BrightnessKeys(b)
    return first + health._brightness_percentiles(b, False, PERCENTILES, keys=twin)


def _plain(a: np.ndarray) -> tuple[float, ...]:
    """The percentiles from int32 keys (in blocks of rows, as health's) and one
    ``numpy.partition``."""
    weights = np.array([(241, 691, 68) + (0,) * (a.shape[2] - 3)], np.float64)
    squares = (np.arange(256, dtype=np.int32) ** 2).reshape(1, 256)
    keys = np.empty(a.shape[:2], np.int32)
    rows = max(1, health._CHUNK_PIXELS // a.shape[1])
    for y in range(0, a.shape[0], rows):
        cv2.transform(cv2.LUT(a[y:y + rows], squares), weights, dst=keys[y:y + rows])
    keys = keys.ravel()
    n = keys.size
    ranks = {}
    for q in PERCENTILES:
        virtual = q / 100 * (n - 1)
        lo = min(math.floor(virtual), n - 1)
        ranks[q] = (lo, min(lo + 1, n - 1), virtual - lo)
    keys.partition(sorted({r for lo, hi, _ in ranks.values() for r in (lo, hi)}))
    out = []
    for lo, hi, t in ranks.values():
        x, y = (math.sqrt(int(keys[r]) / 1000) / 255 for r in (lo, hi))
        out.append(y - (y - x) * (1 - t) if t >= 0.5 else x + (y - x) * t)
    return tuple(out)


def _check_brightness(pixels: list[list[np.ndarray]]) -> None:
    for a, b in pixels:
        if _two_level(a, b) != _plain(a) + _plain(b):
            raise SystemExit("the two ways give different percentiles: fix the benchmark")


def _array_stats(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return health._band_counts(a), health._gray(a, False)


def _pillow_stats(image: Image.Image) -> tuple[list[int], np.ndarray]:
    return image.histogram(), np.asarray(image.convert("L"))


if __name__ == "__main__":
    raise SystemExit(main())
