"""Choosing and loading the examples that figures show.

Samples are drawn from the tables with the run's seed, so a re-run shows the
same images.

Pixels come from the display views the data pass stored in the cache
(:mod:`eda_lib.measure.cache`, views of at most
:data:`~eda_lib.measure.case.VIEW_SIDE` pixels on the longest side, masks on their grid):
drawing a gallery decodes no image of the data folder. A case's views are found by its
cache signature, computed from its files' paths, sizes and modification times as the
pass computed it. When they are missing (the cache was deleted, the files changed since
the pass, or hand-made tables), the image is decoded from the data folder through the
pass's safe readers, with a warning and a ``gallery_fallback`` line in the trace
(:mod:`eda_lib.trace`). Every loader says the file's own size beside the view
(:class:`Shown`, :class:`Example`), so figures can quote it.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import cv2
import numpy as np
import pandas as pd

from .. import trace
from ..config import Config
from ..dataset import images, masks
from ..measure import cache, copymove
from ..measure.case import view_label


@dataclass(frozen=True)
class Shown:
    """One image as drawn: its display view and the size of its file."""

    rgb: np.ndarray  # (h, w, 3) uint8: the display view, or the whole image
    size: tuple[int, int]  # (H, W) of the image in the data folder


@dataclass(frozen=True)
class Example:
    """A forged image ready to draw: RGB pixels, its instance masks and its twin.

    ``rgb``, ``masks`` and ``twin_rgb`` share one grid: the display view (or the whole
    image). ``size`` is the file's (H, W) and ``union_frac`` the share of it any instance
    marks; None when ``rgb`` is the whole image (the figures then measure it).
    """

    case_id: str
    split: str
    rgb: np.ndarray  # (h, w, 3) uint8
    masks: np.ndarray  # (N, h, w) bool
    twin_rgb: np.ndarray | None  # authentic original, (h, w, 3) uint8, alpha dropped
    size: tuple[int, int] | None = None  # (H, W) of the file, None: rgb's own
    union_frac: float | None = None

    @property
    def caption(self) -> str:
        """Short caption; the figures add size and instance count themselves."""
        return f"case {self.case_id}"


def sample(df: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """Up to ``n`` rows drawn without replacement with ``seed``, in table order."""
    if len(df) <= n:
        return df
    return df.sample(n=n, random_state=seed).sort_index()


# ------------------------------------------------------------------ stored views


def case_signature(cfg: Config, t, split: str, case_id: str) -> str:
    """The cache signature of a case, from its files in the tables (``images`` and
    ``masks``) and their state on disk: what the pass keyed the case's views by."""
    img, msk = t.images, t.masks
    paths = list(img.loc[(img["split"] == split) & (img["case_id"] == case_id), "path"])
    paths += list(msk.loc[(msk["split"] == split) & (msk["case_id"] == case_id), "path"])
    return cache.signature(cache.stat_files(cfg.data_dir, paths), cfg)


def stored_views(cfg: Config, t, split: str, case_id: str, keys: list[str]
                 ) -> dict[str, np.ndarray] | None:
    """The display views ``keys`` the pass stored for a case, or None when it has not
    (see :func:`eda_lib.measure.cache.read_views`)."""
    return cache.read_views(cfg.cache_path, case_signature(cfg, t, split, case_id), keys)


def _decode(cfg: Config, rel_path: str) -> images.Decoded:
    """Decode an image of the data folder because its stored view is missing; says so."""
    path = cfg.data_dir / rel_path
    trace.record("gallery_fallback", path)
    warnings.warn(f"no stored view of {rel_path} in {cfg.cache_path} (the cache was deleted, "
                  "the file changed or an older version wrote it): decoding it from the data "
                  "folder; the next data pass stores it", stacklevel=3)
    return images.decode(path, cfg.max_image_pixels)


def load_rgb(cfg: Config, t, split: str, label: str, case_id: str) -> Shown:
    """One image of the ``images`` table as :class:`Shown`: its stored view, else the file
    decoded (alpha dropped, gray replicated)."""
    key = view_label(label)
    views = stored_views(cfg, t, split, case_id, [f"rgb_{key}", f"size_{key}"])
    if views is not None:
        return Shown(views[f"rgb_{key}"], tuple(int(n) for n in views[f"size_{key}"]))
    rgb = _decode(cfg, image_path(t, split, label, case_id)).rgb
    return Shown(rgb, rgb.shape[:2])


def load_captioned(cfg: Config, t, chosen: pd.DataFrame) -> list[tuple[str, Shown]]:
    """``("case <case_id>", Shown)`` for every row of ``chosen``.

    Parameters
    ----------
    cfg : Config
        The run's configuration (cache and data folders, pixel limit).
    t : Tables
        The run's tables (their ``images`` and ``masks`` name each case's files).
    chosen : pandas.DataFrame
        Rows of the ``images`` table (columns split, label, case_id), e.g. a :func:`sample`.

    Returns
    -------
    list of (str, Shown)
        Captions and pixels, in the rows' order.
    """
    return [(f"case {r.case_id}", load_rgb(cfg, t, r.split, r.label, r.case_id))
            for r in chosen.itertuples()]


def load_scored(cfg: Config, t, rows: pd.DataFrame, issue: str) -> list[tuple[str, Shown, None]]:
    """Items of :func:`eda_lib.report.plots.overlay_grid` for rows of the ``health`` table,
    with a :class:`Shown` in place of the pixels.

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
    list of (str, Shown, None)
        In the rows' order.
    """
    return [(f"{r['label'] or r['split']} {r['case_id']}: {r[f'{issue}_score']:.3f}",
             load_rgb(cfg, t, r["split"], r["label"], r["case_id"]), None)
            for r in rows.to_dict("records")]


def load_example(cfg: Config, t, split: str, case_id: str) -> Example:
    """The forged image of a case with its masks and, when it exists, its twin: the stored
    views when the pass kept them, else the files decoded."""
    img = t.images
    rows = img[(img["split"] == split) & (img["case_id"] == case_id)].set_index("label")
    has_twin = "authentic" in rows.index and rows.loc["authentic", "status"] == "ok"
    keys = ["rgb_forged", "size_forged", "masks", "union_frac"]
    views = stored_views(cfg, t, split, case_id, keys + (["rgb_authentic"] if has_twin else []))
    if views is not None:
        twin = views.get("rgb_authentic")
        if twin is not None and twin.shape != views["rgb_forged"].shape:
            twin = None
        return Example(case_id, split, views["rgb_forged"], views["masks"], twin,
                       tuple(int(n) for n in views["size_forged"]), float(views["union_frac"]))
    forged = _decode(cfg, rows.loc["forged", "path"])
    mask_row = t.masks[(t.masks["split"] == split) & (t.masks["case_id"] == case_id)].iloc[0]
    trace.record("gallery_fallback", cfg.data_dir / mask_row["path"])
    m = masks.load_mask(cfg.data_dir / mask_row["path"], (forged.height, forged.width),
                        cfg.allow_pickle)
    twin = None
    if has_twin:
        twin = _decode(cfg, rows.loc["authentic", "path"]).rgb
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


def scale_box(box: tuple[int, int, int, int], size: tuple[int, int], shape: tuple[int, int]
              ) -> tuple[int, int, int, int]:
    """An inclusive box (x1, y1, x2, y2) of an image of ``size`` (H, W) on its view of
    ``shape`` (h, w): the view pixels the box covers, at least one."""
    (height, width), (h, w) = size, shape
    sx, sy = w / width, h / height
    x1, y1 = min(int(box[0] * sx), w - 1), min(int(box[1] * sy), h - 1)
    x2 = min(w - 1, max(x1, math.ceil((box[2] + 1) * sx) - 1))
    y2 = min(h - 1, max(y1, math.ceil((box[3] + 1) * sy) - 1))
    return x1, y1, x2, y2


def _on_view(row, size: tuple[int, int], shape: tuple[int, int]) -> dict:
    """A ``copy_move`` or ``screening`` row with its boxes moved onto a view's grid."""
    out = dict(row)
    if tuple(size) == tuple(shape):
        return out
    for end in ("source", "target"):
        box = _box(row, end)
        if box is not None:
            out.update(zip((f"{end}_{k}" for k in ("x1", "y1", "x2", "y2")),
                           scale_box(box, size, shape)))
    return out


@dataclass(frozen=True)
class PairView:
    """A copy-move pair ready to draw on its image's display view.

    ``panel`` holds the keyword arguments of :func:`eda_lib.plots.copy_move_panel`
    (image, boxes and crops on the view's grid, title); ``size`` is the file's (H, W) and
    ``target_box``, ``source_box`` the boxes in its pixels, as the tables give them
    (``source_box`` None when no source is drawn).
    """

    panel: dict
    size: tuple[int, int]
    target_box: tuple[int, int, int, int]
    source_box: tuple[int, int, int, int] | None


def _pair_view(cfg: Config, t, row, label: str, title: str) -> PairView:
    """The :class:`PairView` of a row with source and target boxes and a transform, in the
    image of ``label``; only that image's view is read. The crops are cut from the view,
    with the boxes scaled onto it."""
    shown = load_rgb(cfg, t, row["split"], label, row["case_id"])
    on_view = _on_view(row, shown.size, shown.rgb.shape[:2])
    source, target = aligned_crops(shown.rgb, on_view)
    panel = {
        "rgb": shown.rgb,
        "target_box": _box(on_view, "target"),
        "source_box": _box(on_view, "source") if source is not None else None,
        "aligned_source": source,
        "target_crop": target if source is not None else None,
        "title": title,
    }
    return PairView(panel, shown.size, _box(row, "target"),
                    _box(row, "source") if source is not None else None)


def copy_move_view(cfg: Config, t, row) -> PairView:
    """The :class:`PairView` of one ``copy_move`` row.

    Only the forged image is read: the panel needs neither the masks nor the twin.
    """
    margin = "" if pd.isna(row["margin"]) else f", margin {row['margin']:.2f}"
    transform = "" if pd.isna(row["transform"]) else f", {row['transform']}"
    return _pair_view(cfg, t, row, "forged",
                      f"case {row['case_id']}, instance {row['instance']}: {row['method']}"
                      f"{transform}, {row['verdict']}{margin}")


def screening_view(cfg: Config, t, row) -> PairView:
    """The :class:`PairView` of one ``screening`` row: the pair the blind screen found,
    drawn as a copy-move pair is (its two ends are ``source`` and ``target`` of the
    fitted transform; which was pasted is unknown).
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
