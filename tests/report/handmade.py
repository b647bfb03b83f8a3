"""Hand-made images, masks and tables for the report tests (gallery, figures).

:func:`hand_dataset` writes four cases in the competition layout and returns the
``images`` and ``masks`` tables that point at them.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
from PIL import Image

from eda_lib.config import make_config


def write_png(root: Path, rel: str, array: np.ndarray) -> str:
    """Write ``array`` as ``root / rel``; return ``rel`` (the table's path)."""
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return rel


def write_npy(root: Path, rel: str, array: np.ndarray) -> str:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, array, allow_pickle=False)
    return rel


def ramp(h: int, w: int, channels: int = 3) -> np.ndarray:
    """Distinct pixel values, so crops and flips can be recognised."""
    values = np.arange(h * w * channels) % 251
    return values.reshape(h, w, channels).astype(np.uint8)


def hand_dataset(tmp_path: Path, **params):
    """``(cfg, t, arrays)`` for four hand-made cases under ``tmp_path / "data"``.

    | case | forged         | authentic             | mask                 |
    | 1    | 8x10 RGB       | 8x10 RGBA (twin)      | (1, 8, 10), 6 px     |
    | 2    | 6x6 RGB        | -                     | (2, 6, 6), 1 px each |
    | 3    | 4x4 RGB        | 4x5 RGB (other size)  | (1, 4, 4), full      |
    | 4    | -              | 5x7 RGB               | -                    |

    ``t`` has the tables ``images`` (split, label, case_id, path, status) and ``masks``
    (split, case_id, path); ``arrays`` holds case 1's forged image ``f1``, its twin
    ``a1`` (RGBA) and its mask ``m1``. ``params`` go to the config.
    """
    root = tmp_path / "data"
    f1 = ramp(8, 10)
    a1 = np.dstack([f1, np.full((8, 10), 255, np.uint8)])
    a1[0, 0, :3] = 7
    m1 = np.zeros((1, 8, 10), np.uint8)
    m1[0, 2:4, 3:6] = 1
    m2 = np.zeros((2, 6, 6), np.uint8)
    m2[0, 0, 0] = m2[1, 5, 5] = 1
    images = pd.DataFrame([
        ("train", "forged", "1", write_png(root, "train_images/forged/1.png", f1), "ok"),
        ("train", "authentic", "1", write_png(root, "train_images/authentic/1.png", a1), "ok"),
        ("train", "forged", "2", write_png(root, "train_images/forged/2.png", ramp(6, 6)), "ok"),
        ("train", "forged", "3", write_png(root, "train_images/forged/3.png", ramp(4, 4)), "ok"),
        ("train", "authentic", "3", write_png(root, "train_images/authentic/3.png", ramp(4, 5)), "ok"),
        ("train", "authentic", "4", write_png(root, "train_images/authentic/4.png", ramp(5, 7)), "ok"),
    ], columns=["split", "label", "case_id", "path", "status"])
    masks = pd.DataFrame([
        ("train", "1", write_npy(root, "train_masks/1.npy", m1)),
        ("train", "2", write_npy(root, "train_masks/2.npy", m2)),
        ("train", "3", write_npy(root, "train_masks/3.npy", np.ones((1, 4, 4), np.uint8))),
    ], columns=["split", "case_id", "path"])
    cfg = make_config({"data_dir": str(root), "out_dir": str(tmp_path / "out"), **params})
    return cfg, SimpleNamespace(images=images, masks=masks), {"f1": f1, "a1": a1, "m1": m1}
