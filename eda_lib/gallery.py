"""Choosing and loading the examples that figures show.

Samples are drawn from the tables with the run's seed, so a re-run shows the
same images. Loading goes through the same safe readers as the data pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import images, masks
from .config import Config


@dataclass(frozen=True)
class Example:
    """A forged image ready to draw: RGB pixels, its instance masks and its twin."""

    case_id: str
    split: str
    rgb: np.ndarray  # (H, W, 3) uint8
    masks: np.ndarray  # (N, H, W) bool
    twin_rgb: np.ndarray | None  # authentic original, (H, W, 3) uint8, alpha dropped

    @property
    def caption(self) -> str:
        """Short caption; the figures add size and instance count themselves."""
        return f"case {self.case_id}"


def measurable_forged(t) -> pd.DataFrame:
    """Forged images whose image decoded and whose mask was usable."""
    img = t.images
    forged = img[(img["label"] == "forged") & img["has_mask"] & (img["status"] == "ok")]
    usable = t.masks[t.masks["status"].isin(["ok", "normalized"])][["split", "case_id", "n_instances"]]
    return forged.merge(usable, on=["split", "case_id"], how="inner")


def sample(df: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """Up to ``n`` rows drawn without replacement with ``seed``, in table order."""
    if len(df) <= n:
        return df
    return df.sample(n=n, random_state=seed).sort_index()


def load_rgb(cfg: Config, rel_path: str) -> np.ndarray:
    """Decode one image of the dataset as (H, W, 3) uint8."""
    return images.decode(cfg.data_dir / rel_path, cfg.max_image_pixels).rgb


def load_example(cfg: Config, t, split: str, case_id: str) -> Example:
    """The forged image of a case with its masks and, when it exists, its twin."""
    img = t.images
    rows = img[(img["split"] == split) & (img["case_id"] == case_id)].set_index("label")
    forged = images.decode(cfg.data_dir / rows.loc["forged", "path"], cfg.max_image_pixels)
    mask_row = t.masks[(t.masks["split"] == split) & (t.masks["case_id"] == case_id)].iloc[0]
    m = masks.load_mask(cfg.data_dir / mask_row["path"], (forged.height, forged.width),
                        cfg.allow_pickle)
    twin = None
    if "authentic" in rows.index and rows.loc["authentic", "status"] == "ok":
        twin = load_rgb(cfg, rows.loc["authentic", "path"])
        if twin.shape != forged.rgb.shape:
            twin = None
    return Example(case_id, split, forged.rgb, m.instances, twin)


def load_examples(cfg: Config, t, chosen: pd.DataFrame) -> list[Example]:
    """:func:`load_example` for every row of ``chosen`` (columns split, case_id)."""
    return [load_example(cfg, t, r.split, r.case_id) for r in chosen.itertuples()]
