"""Choosing and loading the examples that figures show.

Samples are drawn from the tables with the run's seed, so a re-run shows the
same images. Loading goes through the same safe readers as the data pass.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pandas as pd

from ..config import Config
from ..dataset import images, masks
from ..measure import copymove


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


def sample(df: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """Up to ``n`` rows drawn without replacement with ``seed``, in table order."""
    if len(df) <= n:
        return df
    return df.sample(n=n, random_state=seed).sort_index()


def load_rgb(cfg: Config, rel_path: str) -> np.ndarray:
    """Decode one image of the dataset as (H, W, 3) uint8."""
    return images.decode(cfg.data_dir / rel_path, cfg.max_image_pixels).rgb


def load_captioned(cfg: Config, chosen: pd.DataFrame) -> list[tuple[str, np.ndarray]]:
    """``("case <case_id>", rgb)`` for every row of ``chosen`` (columns case_id, path).

    Parameters
    ----------
    cfg : Config
        The run's configuration (data folder, pixel limit).
    chosen : pandas.DataFrame
        Rows of the ``images`` table, e.g. a :func:`sample`.

    Returns
    -------
    list of (str, numpy.ndarray)
        Captions and (H, W, 3) uint8 pixels, in the rows' order.
    """
    return [(f"case {r.case_id}", load_rgb(cfg, r.path)) for r in chosen.itertuples()]


def load_scored(cfg: Config, t, rows: pd.DataFrame, issue: str) -> list[tuple[str, np.ndarray, None]]:
    """Items of :func:`eda_lib.report.plots.overlay_grid` for rows of the ``health`` table.

    Each caption gives the label (the split for an unlabelled image: "test",
    "unlabelled"), the case_id and the
    image's ``<issue>_score``; no masks are drawn.

    Parameters
    ----------
    cfg : Config
        The run's configuration.
    t : Tables
        The run's tables (their ``images`` give each image's path).
    rows : pandas.DataFrame
        Rows of ``health``, e.g. :func:`eda_lib.analysis.stats.worst`.
    issue : str
        Issue whose score is quoted.

    Returns
    -------
    list of (str, numpy.ndarray, None)
        In the rows' order.
    """
    return [(f"{r['label'] or r['split']} {r['case_id']}: {r[f'{issue}_score']:.3f}",
             load_rgb(cfg, image_path(t, r["split"], r["label"], r["case_id"])), None)
            for r in rows.to_dict("records")]


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


def aligned_crops(rgb: np.ndarray, row) -> tuple[np.ndarray | None, np.ndarray]:
    """The source crop warped onto the target's grid, and the target crop.

    ``row`` is a row of the ``copy_move`` or ``screening`` table. The source box content is
    transformed (``target = transform(source)``) and resized to the target box, so
    the two crops can be compared pixel by pixel; None when no source was found.
    """
    tx1, ty1, tx2, ty2 = (int(row[f"target_{k}"]) for k in ("x1", "y1", "x2", "y2"))
    target = rgb[ty1 : ty2 + 1, tx1 : tx2 + 1]
    if pd.isna(row["source_x1"]) or pd.isna(row["transform"]):
        return None, target
    sx1, sy1, sx2, sy2 = (int(row[f"source_{k}"]) for k in ("x1", "y1", "x2", "y2"))
    source = copymove.apply_transform(rgb[sy1 : sy2 + 1, sx1 : sx2 + 1], row["transform"])
    if source.shape[:2] != target.shape[:2]:
        source = cv2.resize(np.ascontiguousarray(source), (target.shape[1], target.shape[0]),
                            interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(source), target


def copy_move_showcase(cm: pd.DataFrame, n: int, seed: int) -> dict[str, pd.DataFrame]:
    """Instances to show: the most and least certain, and a sample of flips/rotations."""
    resolved = cm.dropna(subset=["target_x1"])
    certain = resolved[resolved["verdict"] == "copy"].sort_values(
        ["margin", "ncc"], ascending=False, kind="stable")
    uncertain = resolved[resolved["verdict"] != "copy"].sort_values(
        ["margin"], ascending=True, kind="stable", na_position="first")
    turned = resolved[(resolved["verdict"] == "copy") & (resolved["transform"] != "identity")]
    return {
        "most certain": certain.head(n),
        "least certain": uncertain.head(n),
        "flips and rotations": sample(turned, n, seed),
    }


def _box(row, prefix: str) -> tuple[int, int, int, int] | None:
    values = [row[f"{prefix}_{k}"] for k in ("x1", "y1", "x2", "y2")]
    return None if any(pd.isna(v) for v in values) else tuple(int(v) for v in values)


def _pair_view(cfg: Config, t, row, label: str, title: str) -> dict:
    """Keyword arguments of :func:`eda_lib.plots.copy_move_panel` for a row with source
    and target boxes and a transform, in the image of ``label``; only that image is read."""
    rgb = load_rgb(cfg, image_path(t, row["split"], label, row["case_id"]))
    source, target = aligned_crops(rgb, row)
    return {
        "rgb": rgb,
        "target_box": _box(row, "target"),
        "source_box": _box(row, "source") if source is not None else None,
        "aligned_source": source,
        "target_crop": target if source is not None else None,
        "title": title,
    }


def copy_move_view(cfg: Config, t, row) -> dict:
    """Keyword arguments of :func:`eda_lib.plots.copy_move_panel` for one ``copy_move`` row.

    Only the forged image is read: the panel needs neither the masks nor the twin.
    """
    margin = "" if pd.isna(row["margin"]) else f", margin {row['margin']:.2f}"
    transform = "" if pd.isna(row["transform"]) else f", {row['transform']}"
    return _pair_view(cfg, t, row, "forged",
                      f"case {row['case_id']}, instance {row['instance']}: {row['method']}"
                      f"{transform}, {row['verdict']}{margin}")


def screening_view(cfg: Config, t, row) -> dict:
    """Keyword arguments of :func:`eda_lib.plots.copy_move_panel` for one ``screening``
    row: the pair the blind screen found, drawn as a copy-move pair is (its two ends
    are ``source`` and ``target`` of the fitted transform; which was pasted is unknown).
    """
    label = f"{row['label']} " if row["label"] else ""
    reason = "" if pd.isna(row["reason"]) else f" ({row['reason']})"
    ncc = "" if pd.isna(row["ncc"]) else f", ncc {row['ncc']:.2f}"
    return _pair_view(cfg, t, row, row["label"],
                      f"{row['split']} {label}{row['case_id']}, pair {row['pair']}: "
                      f"{row['transform']}{ncc}, {row['verdict']}{reason}")


def image_path(t, split: str, label: str, case_id: str) -> str:
    """Path (relative to data_dir) of one image of the ``images`` table."""
    img = t.images
    row = img[(img["split"] == split) & (img["label"] == label) & (img["case_id"] == case_id)]
    return row["path"].iloc[0]
