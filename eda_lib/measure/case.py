"""One case measured: every file opened once, every per-file measurement taken then.

A case is a forged image, its authentic twin and its mask (or any lone file of them),
within one split. :func:`measure_case` decodes each image once, loads the mask once and
takes every per-file measurement with the pair at hand: image health
(:mod:`~eda_lib.measure.health`), instance shapes (:mod:`~eda_lib.measure.instances`),
the mask as a submission (:mod:`~eda_lib.dataset.metric`), the copy-move analysis
(:mod:`~eda_lib.measure.copymove`) and the blind screen (:mod:`~eda_lib.measure.screening`),
which looks at each image without its mask or twin and is only afterwards compared
with the labels. Rows come back as plain dicts per table of
:mod:`eda_lib.tables`; :mod:`eda_lib.datapass` runs cases on workers and caches them.

With the rows come the case's *display views* (:attr:`Rows.views`): every decoded image
shrunk to at most :data:`VIEW_SIDE` on its longest side, and the mask's instances on the
forged image's view grid. They are what the report's galleries and copy-move and
screening figures draw (the notebooks sample which images to show, so every image gets
one), so no image is decoded a second time for a figure; :mod:`eda_lib.measure.cache`
stores them next to the case's rows.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np

from ..config import Config
from ..dataset import images, masks, metric
from ..dataset.index import ImageEntry, Index, MaskEntry
from ..errors import DataError
from ..geometry import same_pair
from . import copymove, health, screening
from .instances import instance_metrics

#: Longest side, in pixels, of the display view kept of every decoded image: the
#: default ``display_size``, the largest a figure shows an image (a grid tile, 320 px by
#: default, and a copy-move crop, half the display size, are shrunk from it). Images
#: already this small are kept whole, so their figures are those of the files.
VIEW_SIDE = 768


@dataclass
class Case:
    """The files of one case_id within one split."""

    split: str
    case_id: str
    images: list[ImageEntry] = field(default_factory=list)
    mask: MaskEntry | None = None
    sig: str = ""  # cache signature (eda_lib.measure.cache.signature)
    nbytes: int = 0  # bytes of its files on disk, the cost estimate of the schedule

    @property
    def paths(self) -> list[str]:
        return [e.path for e in self.images] + ([self.mask.path] if self.mask else [])


@dataclass
class Rows:
    """Rows produced by measuring one or more cases, per table."""

    tables: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))
    #: Display views of one case (:func:`measure_case`): ``rgb_<label>`` (h, w, 3) uint8
    #: and ``size_<label>`` (H, W) of each decoded image (``<label>`` is
    #: :func:`view_label`), ``masks`` (N, h, w) bool on the forged image's view grid and
    #: ``union_frac``, the share of the forged image any instance marks. Not merged by
    #: :meth:`extend`: they are stored per case (:func:`eda_lib.measure.cache.save_views`).
    views: dict[str, np.ndarray] = field(default_factory=dict)

    def add(self, table: str, row: dict) -> None:
        self.tables[table].append(row)

    def extend(self, other: Rows) -> None:
        for name, rows in other.tables.items():
            self.tables[name].extend(rows)


def group_cases(index: Index) -> list[Case]:
    """Group the index's images and masks by (split, case_id)."""
    cases: dict[tuple[str, str], Case] = {}
    for e in index.images:
        cases.setdefault((e.split, e.case_id), Case(e.split, e.case_id)).images.append(e)
    for m in index.masks:
        cases.setdefault((m.split, m.case_id), Case(m.split, m.case_id)).mask = m
    return list(cases.values())


def view_label(label: str) -> str:
    """The key of an image's label in :attr:`Rows.views` (``"none"`` for an unlabelled one)."""
    return label or "none"


def view_shape(height: int, width: int, side: int = VIEW_SIDE) -> tuple[int, int]:
    """(h, w) of the display view of an image of ``height`` x ``width``: longest side
    ``side`` with the aspect ratio kept (rounded as :func:`eda_lib.report.plots.thumbnail`
    rounds), or the image's own size when it is not larger."""
    if max(height, width) <= side:
        return height, width
    scale = side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def view_rgb(rgb: np.ndarray, side: int = VIEW_SIDE) -> np.ndarray:
    """An (H, W, 3) uint8 image shrunk to its :func:`view_shape` by area averaging
    (``INTER_AREA``, as the figures shrink), or itself when it is small enough."""
    h, w = view_shape(*rgb.shape[:2], side)
    if (h, w) == rgb.shape[:2]:
        return rgb
    return cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)


def view_masks(instances: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """An (N, H, W) stack on the (h, w) grid of a view, by "any" pooling.

    A view pixel is on when any pixel of the block of ``ceil`` (H / h, W / w) pixels it
    covers is on (the rule of :func:`eda_lib.report.plots.resize_masks`), so a small
    instance still shows; the pooled grid is then fitted to ``shape`` by nearest neighbour.
    """
    n, height, width = instances.shape
    if (height, width) == tuple(shape):
        return instances != 0
    factor = max(math.ceil(height / shape[0]), math.ceil(width / shape[1]))
    # the maximum over the block below and right of each pixel (outside the image: 0),
    # read at every factor-th pixel: the blocks' maxima, ten times quicker than a reshape
    block = np.ones((factor, factor), np.uint8)
    out = np.zeros((n, *shape), bool)
    for k, mask in enumerate(instances):
        plane = (mask != 0).view(np.uint8)
        if factor > 1:
            grown = cv2.dilate(plane, block, anchor=(0, 0), borderType=cv2.BORDER_CONSTANT,
                               borderValue=0)
            plane = np.ascontiguousarray(grown[::factor, ::factor])
        out[k] = cv2.resize(plane, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST_EXACT) > 0
    return out


def _keep_view(rows: Rows, label: str, image: images.Decoded) -> None:
    """Add the display view of one decoded image and its size to ``rows.views``."""
    key = view_label(label)
    rows.views[f"rgb_{key}"] = np.ascontiguousarray(view_rgb(image.rgb))
    rows.views[f"size_{key}"] = np.array([image.height, image.width], np.int64)


def _problem(rows: Rows, path: str, case_id: str, kind: str, detail: str) -> None:
    rows.add("problems", {"path": path, "case_id": case_id, "kind": kind, "detail": detail})


def _decode_image(root: Path, e: ImageEntry, cfg: Config, rows: Rows
                  ) -> tuple[images.Decoded | None, dict]:
    """Decode one image and add its row (and its problem, when it cannot be decoded);
    return the decoded image (or None) and the row, which the screen completes."""
    row = {
        "case_id": e.case_id, "split": e.split, "label": e.label, "path": e.path,
        "has_mask": e.mask_path is not None, "twin": e.twin, "status": "ok",
    }
    path = root / e.path
    try:
        row["file_bytes"] = path.stat().st_size
        decoded = images.decode(path, cfg.max_image_pixels)
    except (DataError, OSError) as exc:
        kind = getattr(exc, "kind", "unreadable_image")
        row["status"] = kind
        rows.add("images", row)
        _problem(rows, e.path, e.case_id, kind, _short(exc, root))
        return None, row
    row.update(width=decoded.width, height=decoded.height,
               aspect=decoded.width / decoded.height, mode=decoded.mode)
    rows.add("images", row)
    if decoded.orientation != 1:
        _problem(rows, e.path, e.case_id, "exif_orientation",
                 f"EXIF orientation {decoded.orientation} asks viewers to "
                 f"{images.ORIENTATIONS[decoded.orientation]}; it is analysed as stored, so "
                 "its boxes and masks are in the stored pixels, not as a viewer shows it")
    return decoded, row


def _score_images(entries: list[ImageEntry], decoded: list[images.Decoded], rows: Rows) -> None:
    """Add the health rows of a case's decoded images: :func:`health.score_pair` for a
    forged image and its twin, :func:`health.image_scores` for a lone image."""
    pixels = [d.uint8 for d in decoded]
    scores = health.score_pair(*pixels) if len(pixels) == 2 else map(health.image_scores, pixels)
    for e, values in zip(entries, scores):
        rows.add("image_scores", {"case_id": e.case_id, "split": e.split, "label": e.label,
                                  **values})


def _short(exc: Exception, root: Path) -> str:
    """Error text with the data folder prefix removed (paths are relative in tables)."""
    return str(exc).replace(str(root) + "/", "")


def _measure_mask(root: Path, m: MaskEntry, image, rows: Rows, allow_pickle: bool):
    """Load and normalise one mask, add its rows, return the Mask (or None)."""
    hw = (image.height, image.width) if image is not None else None
    row = {"case_id": m.case_id, "split": m.split, "path": m.path}
    try:
        mask = masks.load_mask(root / m.path, hw, allow_pickle)
    except DataError as exc:
        row.update(_stored_as(root / m.path), status=exc.kind)
        rows.add("masks", row)
        _problem(rows, m.path, m.case_id, exc.kind, _short(exc, root))
        return None
    row.update(_stored_as(root / m.path, mask))
    h, w = mask.instances.shape[1:]
    # cv2.countNonZero counts bytes faster than numpy counts bools
    areas = np.array([cv2.countNonZero(channel.view(np.uint8)) for channel in mask.instances],
                     np.int64)
    union = mask.union
    union_px = cv2.countNonZero(union.view(np.uint8))
    if m.image_path is None:
        status = "orphan"
    elif image is None:
        status = "image_unreadable"
    elif union_px == 0:
        status = "empty"
    elif mask.notes:
        status = "normalized"
    else:
        status = "ok"
    row.update(
        height=h, width=w, n_instances=mask.n_instances, n_empty=int((areas == 0).sum()),
        union_px=union_px, union_frac=union_px / (h * w), status=status,
        notes=";".join(mask.notes), **_submission_checks(mask, union),
    )
    rows.add("masks", row)
    if mask.notes and image is not None:
        detail = "; ".join(masks.RULES[n] for n in mask.notes)
        _problem(rows, m.path, m.case_id, "mask_normalized", detail)
    if union_px == 0 and image is not None:
        _problem(rows, m.path, m.case_id, "empty_mask", "no pixel is marked in any channel")
    return mask


def _stored_as(path: Path, mask: masks.Mask | None = None) -> dict:
    """A mask file's shape and dtype as stored: the loaded array's, else (a refused or
    unpickled file) its header's; nothing when even the header cannot be read."""
    if mask is not None and "unpickled" not in mask.notes:
        shape, dtype = mask.raw_shape, mask.raw_dtype
    else:
        try:
            shape, dtype = masks.read_header(path)
        except DataError:
            return {}
    return {"shape": "x".join(map(str, shape)), "dtype": str(dtype)}


def _submission_checks(mask: masks.Mask, union: np.ndarray) -> dict:
    """The mask as the competition's annotation: its size, round trip and union baseline.

    The round trip writes each instance's runs as annotation text and reads the text
    back under the scorer's rules; the runs must come back unchanged (drawing masks
    from runs is checked by the tests, so no pixel array is redrawn here). ``union``
    is ``mask.union``, the prediction of the baseline.
    """
    truth = metric.truth_from_masks(mask.instances)
    runs = [metric.rle_encode(m) for m in truth]
    text = metric.format_runs(runs)
    back = metric.parse_runs(text, mask.instances.shape[1:])
    same = back == metric.AUTHENTIC and not truth or (
        back != metric.AUTHENTIC and [r.tolist() for r in back] == runs)
    baseline = metric.of1(truth, [union]) if truth else float("nan")
    return {"rle_chars": len(text), "rle_roundtrip": same, "of1_union": baseline}


def measure_case(root: Path, case: Case, cfg: Config, views: bool = True) -> Rows:
    """Measure every file of one case: images decoded once, the mask loaded once.

    Each image is screened blind first (nothing of its mask or twin is used); the
    screen's copies are then scored against the labels: ``screen_of1`` of every
    labelled image, ``screen_found`` of every copy-move pair. With ``views``, the
    case's display views (:attr:`Rows.views`) are kept too, from the same decode.
    """
    rows = Rows()
    decoded, image_rows = {}, {}
    for e in case.images:
        decoded[e.label], image_rows[e.label] = _decode_image(root, e, cfg, rows)
    readable = [e for e in case.images if decoded[e.label] is not None]
    # an image and its twin are reduced to 8 bits alike, so they compare as stored
    bits = max((decoded[e.label].bits for e in readable), default=8)
    for e in readable:
        decoded[e.label] = replace(decoded[e.label], bits=bits)
    if views:
        for e in readable:
            _keep_view(rows, e.label, decoded[e.label])
    _score_images(readable, [decoded[e.label] for e in readable], rows)
    screens = {e.label: _screen(decoded[e.label], e, image_rows[e.label], cfg, rows)
               for e in readable}
    if "authentic" in screens:
        _score_screen(image_rows["authentic"], screens["authentic"], [])
    forged = decoded.get("forged")
    if case.mask is None:
        return rows
    if case.mask.image_path is not None and forged is None:
        # the image failed to decode: load the mask on its own so its problems still show
        _measure_mask(root, case.mask, None, rows, cfg.allow_pickle)
        return rows
    mask = _measure_mask(root, case.mask, forged, rows, cfg.allow_pickle)
    if mask is None or case.mask.image_path is None:
        return rows
    if views and "rgb_forged" in rows.views:
        rows.views["masks"] = view_masks(mask.instances, rows.views["rgb_forged"].shape[:2])
        rows.views["union_frac"] = np.array(rows.tables["masks"][-1]["union_frac"], np.float64)
    truth = metric.truth_from_masks(mask.instances)
    if truth:
        _score_screen(image_rows["forged"], screens.get("forged"), truth)
    key = {"case_id": case.case_id, "split": case.split}
    for k in range(mask.n_instances):
        rows.add("instances", {**key, "instance": k + 1, **instance_metrics(mask.instances[k])})
    if mask.n_instances and cfg.copy_move:
        twin = decoded.get("authentic")
        _copy_move(forged, twin, mask, cfg, key, case.mask.path, rows, screens.get("forged"))
    return rows


def _screen(image: images.Decoded, e: ImageEntry, row: dict, cfg: Config,
            rows: Rows) -> screening.Screened | None:
    """Screen one decoded image blind; add its pairs and complete its images row.

    Returns the result, or None when screening is off or failed (a failure is a
    ``screening_failed`` problem; the rest of the case goes on).
    """
    if not cfg.screening:
        row["screen_status"] = "off"
        return None
    try:
        found = screening.screen_image(image.rgb, max_side=cfg.screening_max_side)
    except Exception as exc:  # one image's screen must not end the pass: report it
        row.update(screen_status="failed", screen_reason=f"{type(exc).__name__}: {exc}")
        _problem(rows, e.path, e.case_id, "screening_failed", f"{type(exc).__name__}: {exc}")
        return None
    row.update(screen_status=found.status, screen_reason=found.reason or None,
               screen_copies=len(found.copies))
    key = {"split": e.split, "label": e.label, "case_id": e.case_id}
    instances = iter(found.instances())  # one per copy, in the pairs' order
    for pair in found.pairs:
        out = {**key, **pair.as_row(), "reason": pair.reason or None}
        if pair.verdict == "copy":
            out["annotation"] = metric.format_annotation([next(instances)])
        rows.add("screening", out)
    return found


def _score_screen(row: dict, found: screening.Screened | None, truth: list) -> None:
    """``screen_of1`` of an image row: the screen's copies, as the image's submission,
    against ``truth`` (the mask's instances; empty for an authentic image)."""
    if found is not None:
        row["screen_of1"] = metric.of1(truth, found.instances())


def _copy_move(forged, twin, mask, cfg: Config, key: dict, mask_path: str, rows: Rows,
               found: screening.Screened | None) -> None:
    """Copy-move analysis of one forged image (with its twin when it has the same size);
    each pair is marked ``screen_found`` when the blind screen ``found`` it."""
    twin_rgb = twin.rgb if twin is not None and twin.pixels.shape[:2] == forged.pixels.shape[:2] \
        else None
    try:
        results, check = copymove.analyze_image(forged.rgb, mask.instances, twin_rgb,
                                                max_side=cfg.copy_move_max_side)
    except Exception as exc:  # one image's analysis must not end the pass: report it
        _problem(rows, mask_path, key["case_id"], "copy_move_failed",
                 f"{type(exc).__name__}: {exc}")
        return
    copies = [(p.source_box, p.target_box) for p in found.copies] if found is not None else []
    for r in results:
        seen = None
        if found is not None and r.source_box is not None and r.target_box is not None:
            seen = any(same_pair(c, (r.source_box, r.target_box)) for c in copies)
        rows.add("copy_move", {**key, **r.as_row(), "screen_found": seen})
    if check is not None:
        rows.add("label_check", {**key, **check.as_row()})
