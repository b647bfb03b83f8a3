"""Shared fixtures: tiny hand-made datasets in the competition layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def write_png(path: Path, array: np.ndarray, mode: str | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array, mode=mode).save(path)
    return path


def write_mask(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, array, allow_pickle=False)
    return path


def textured(h: int, w: int, seed: int, channels: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (h, w, channels) if channels > 1 else (h, w)
    return rng.integers(0, 256, size=shape, dtype=np.uint8)


@pytest.fixture
def tiny_dataset(tmp_path: Path) -> Path:
    """Three forged images (two with twins), one without a mask, an orphan mask, a test image.

    | case | forged | authentic twin | mask                               |
    | 10   | 40x60 RGB  | yes (RGBA)  | (1,40,60): a 5x6 block = 30 px      |
    | 25   | 30x30 L    | yes (L)     | (2,30,30): 4 px and 9 px            |
    | 31   | 20x50 RGB  | no          | missing                             |
    | 77   | -          | -           | orphan (1,8,8)                      |
    """
    root = tmp_path / "data"
    a10 = textured(40, 60, 1)
    f10 = a10.copy()
    f10[10:15, 20:26] = 0
    write_png(root / "train_images/authentic/10.png", np.dstack([a10, np.full((40, 60), 255, np.uint8)]))
    write_png(root / "train_images/forged/10.png", f10)
    m10 = np.zeros((1, 40, 60), np.uint8)
    m10[0, 10:15, 20:26] = 1
    write_mask(root / "train_masks/10.npy", m10)

    a25 = textured(30, 30, 2, channels=1)
    write_png(root / "train_images/authentic/25.png", a25)
    write_png(root / "train_images/forged/25.png", a25)
    m25 = np.zeros((2, 30, 30), np.uint8)
    m25[0, 0:2, 0:2] = 1
    m25[1, 10:13, 10:13] = 1
    write_mask(root / "train_masks/25.npy", m25)

    write_png(root / "train_images/forged/31.png", textured(20, 50, 3))
    write_mask(root / "train_masks/77.npy", np.ones((1, 8, 8), np.uint8))
    write_png(root / "test_images/45.png", textured(16, 16, 4))
    (root / "sample_submission.csv").write_text("case_id,annotation\n45,authentic\n")
    return root


@pytest.fixture(scope="session")
def demo_report(tmp_path_factory):
    """One full run of the suite on generated data, shared by the end-to-end tests.

    Returns ``(cfg, truth, result)``: the run's config, the generator's ground truth
    and the runner's result.
    """
    from eda_lib import config
    from eda_lib.dataset import demo
    from eda_lib.report import runner

    tmp = tmp_path_factory.mktemp("suite")
    data = tmp / "data"
    truth = demo.generate(data, forged=10, seed=5, size_scale=0.2, supplemental=1)
    cfg = config.make_config({
        "data_dir": str(data), "out_dir": str(tmp / "out"), "workers": 2, "progress": False,
        "grid_size": 200, "max_grid_images": 4,  # display_size stays wide: pages must scale it
    })
    return cfg, truth, runner.run(cfg, progress=False)
