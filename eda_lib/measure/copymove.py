"""Copy-move analysis: where each marked copy came from, and how sure we are.

For every instance (mask channel) of a forged image this module recovers the
pasted region ("target"), the region it was copied from ("source"), the
flip/rotation and scale between them, and scores that separate a real copy from
chance similarity on repetitive content (blots, lanes, blank backgrounds).

Three routes, chosen per instance by :func:`analyze_image`:

``twin_diff``
    The authentic twin is given. ``|forged - twin|`` labels every marked
    component: one with changed pixels (more than ``role_changed_frac`` of it)
    is a pasted target, an untouched one a source. The largest target is
    matched to the source components of its channel, or, when the channel marks
    only the target, searched for in the rest of the image. A channel with no
    changed component (a flat patch pasted over look-alike content) falls back
    to the routes below.
``mask_pair``
    No twin, the channel marks two components. They are matched to each other
    under the 8 flips/rotations at the scale their boxes imply. Which one is
    the target cannot be known for sure without a twin: we call target the
    component whose outline shows the stronger seam (neighbouring pixels across
    the outline differ more than those on either side: a pasted region sets
    unrelated pixels side by side, a source's outline runs through continuous
    content). With several components, the two largest are used.
``search``
    No twin, one component: the target's content is searched for in the rest
    of the image, its own location excluded, under the 8 flips/rotations and
    the ``search_scales``, the best candidates' scales then refined.

All matching runs on the gray image as float32. A search matches the masked
template at reduced scale (longest side at most ``max_side``, template around
``coarse_template_px`` pixels), then refines the best peaks at full resolution
in a small neighbourhood, locating a probe cut from the template; a marked pair
is refined at full resolution around its source directly. Scores are computed
on the whole region at the final position.

Scores reported per instance (see :class:`CopyMoveResult`):

- ``ncc``: masked normalized cross-correlation of the aligned source and target.
- ``residual_ncc``: the same on the noise residual, each region minus its own
  Gaussian blur (only region pixels enter the blur, so surroundings do not
  matter). Two different blots may look alike (high ``ncc``) while their noise
  is independent; a copy carries its noise along.
- ``texture``: number of the target's texture-bearing pixels, those with fine,
  noise-like texture (flat and clipped areas, ramps and straight edges bear
  none). A region with little texture matches anything; its verdict is
  ``"undecidable"``, never ``"copy"``.
- ``identical_frac``: share of texture-bearing pixels whose aligned values agree
  within ``identical_tol`` after fitting gain and offset (so a brightness change
  does not hide a copy). Chance does not reproduce noise pixel for pixel.
- ``margin``: score of the chosen hypothesis minus that of the best competing
  one, the score being ``(ncc + residual_ncc) / 2``. A competitor is another
  location (``search``) or another transform at the paired location
  (``mask_pair`` and ``twin_diff`` with a marked source).

Verdict: ``"undecidable"`` when ``texture < TEXTURE_MIN``; ``"copy"`` when the
pair is identical (unscaled, ``identical_frac >= IDENTICAL_COPY`` and
``ncc >= NCC_COPY``), or, for a pair the mask itself marks, when it is a close
resampled match (``ncc >= NCC_PAIR_COPY`` and ``residual_ncc >=
RESIDUAL_NCC_PAIR_COPY``); ``"unsure"`` otherwise. A resampled match found by
searching the whole image is never called a copy: among thousands of positions
and 40 (transform, scale) hypotheses, chance reaches such scores on small regions.

Conventions: boxes are ``(x1, y1, x2, y2)`` with inclusive corners;
``target_pixels == apply_transform(source_pixels, transform)``; ``scale`` is
target size over source size; ``dx, dy`` are the target box's top-left minus
the source box's top-left.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from types import MappingProxyType
from typing import Any, NamedTuple

import cv2
import numpy as np

from ..config import merge_tuning
from ..dataset import images
from ..errors import ImageError, MaskError
from ..geometry import (
    SWAPS_AXES,
    TRANSFORMS,
    Box,
    apply_transform,
    bbox,
    box_iou,
    inverse_transform,
)

_IMMERKAER = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)

# Verdict thresholds, chosen on the demo data: 6 seeds of benchmarks/bench_copymove.py
# (seeds 0-2 to choose, 3-5 to check), ~500 textured forged instances and 936 random
# regions of authentic images searched like target-only instances.
# - Unscaled copies, brightness-changed or not, reproduce their texture-bearing pixels:
#   identical_frac >= 0.97 for 98 % of them (one outlier, clipped, at 0.25), ncc >= 0.94.
#   Chance matches with 64 or more bearing pixels never passed identical_frac 0.43.
# - Below 64 bearing pixels chance does reach identical_frac 1.0: duplicated chart
#   graphics (a tick label and its axis repeated in several panels, up to 48 bearing
#   pixels) and flat or clipped areas. Hence TEXTURE_MIN; about a third of the demo's
#   small, low-noise forged regions fall below it and are "undecidable".
# - Resampled copies (scale != 1) lose pixel identity; against the source the mask marks
#   25 of 28 kept ncc >= 0.9 and residual_ncc >= 0.5. Searched chance matches reach
#   ncc 0.99 and residual_ncc 0.9 on small regions, so that rule is for marked pairs only.
#: Fewest texture-bearing pixels for any verdict but "undecidable".
TEXTURE_MIN = 64
#: Least ``identical_frac`` of an identical (unscaled) copy.
IDENTICAL_COPY = 0.9
#: Least ``ncc`` of an identical copy.
NCC_COPY = 0.95
#: Least ``ncc`` of a resampled copy of a pair marked by the mask.
NCC_PAIR_COPY = 0.9
#: Least ``residual_ncc`` of a resampled copy of a pair marked by the mask.
RESIDUAL_NCC_PAIR_COPY = 0.5

#: Algorithm parameters of :func:`analyze_image` and :func:`search_source`;
#: pass any of them as keyword arguments to override.
DEFAULT_TUNING: Mapping[str, Any] = MappingProxyType(
    {
        # twin difference: a pixel changed when some channel differs by more than this
        "change_tol": 8,
        # a component is the pasted target when more than this share of it changed: a
        # source is untouched by the forgery, while a target may have been pasted over
        # look-alike content (black on black) and changed in a few places only
        "role_changed_frac": 0.02,
        # components smaller than this many pixels, or than this share of the
        # channel's largest component, are ignored as speckle
        "min_component_px": 8,
        "min_component_frac": 0.05,
        # scales (target / source) tried by the coarse search of the whole image
        "search_scales": (0.8, 0.9, 1.0, 1.12, 1.25),
        # the scales of the best few candidates are refined by a local search at full
        # resolution when they are not 1 or their residual_ncc is below this (exact
        # copies skip it)
        "refine_scale_top": 3,
        "refine_scale_below": 0.8,
        # ... and when their score is within this of the best candidate's
        "refine_scale_within": 0.25,
        # the coarse search scale brings the template to about this many pixels and the
        # image to at most that many (and its longest side to at most max_side)
        "coarse_template_px": 576,
        "coarse_max_px": 262_144,
        # coarse peaks kept per (transform, scale) map, and refined in all
        "peaks_per_map": 2,
        "candidates": 12,
        # side (px) of the probe cut from the template for the full-resolution refinement
        "probe_side": 96,
        # a candidate is excluded when its box covers more than this share of the
        # smaller of itself and an excluded box (the target's own, at least)
        "exclude_overlap": 0.25,
        # sigma (px) of the blur subtracted to get the noise residual
        "residual_sigma": 1.5,
        # gray levels within which aligned pixels count as identical
        "identical_tol": 1.0,
    }
)


@dataclass(frozen=True)
class CopyMoveResult:
    """What one instance's analysis found.

    Attributes
    ----------
    instance : int
        1-based mask channel (0 for a region given to :func:`search_source`).
    method : str
        ``"twin_diff"``, ``"mask_pair"``, ``"search"``, or ``"none"`` when the
        channel is empty or no source hypothesis fits in the image.
    target_box, source_box : tuple of int or None
        ``(x1, y1, x2, y2)``, inclusive. The source box is where the matched
        content lies, which may differ from a sloppily drawn source mask.
    transform : str or None
        Name from :data:`TRANSFORMS`, with ``target = apply_transform(source)``.
    scale : float or None
        Target size over source size.
    dx, dy : int or None
        Target box top-left minus source box top-left.
    ncc, residual_ncc, identical_frac, margin : float or None
        Scores described in the module docstring.
    texture : int or None
        Number of the target's texture-bearing pixels (module docstring).
    verdict : str
        ``"copy"``, ``"unsure"`` (including "no convincing source found") or
        ``"undecidable"`` (too little texture to tell, or nothing to analyse).
    """

    instance: int
    method: str
    target_box: Box | None
    source_box: Box | None
    transform: str | None
    scale: float | None
    dx: int | None
    dy: int | None
    ncc: float | None
    residual_ncc: float | None
    identical_frac: float | None
    texture: int | None
    margin: float | None
    verdict: str

    def as_row(self) -> dict[str, Any]:
        """Flat dict for a tidy table: boxes become ``target_x1`` .. ``source_y2``."""
        row: dict[str, Any] = {"instance": self.instance, "method": self.method}
        for prefix, box in (("target", self.target_box), ("source", self.source_box)):
            for key, value in zip(("x1", "y1", "x2", "y2"), box or (None,) * 4):
                row[f"{prefix}_{key}"] = value
        for key in ("transform", "scale", "dx", "dy", "ncc", "residual_ncc",
                    "identical_frac", "texture", "margin", "verdict"):
            row[key] = getattr(self, key)
        return row


class LabelComponent(NamedTuple):
    """One marked connected component, labelled with the twin."""

    instance: int
    component_index: int
    box: Box
    role: str
    changed_frac: float


@dataclass(frozen=True)
class LabelCheck:
    """Label quality of one forged image, judged against its authentic twin.

    Attributes
    ----------
    changed_px : int
        Pixels that differ between forged image and twin.
    changed_outside_mask_px : int
        Changed pixels that no channel marks (missed or unlabelled edits).
    marked_px : int
        Pixels marked by any channel.
    marked_unchanged_px : int
        Marked pixels that did not change (sources, or over-drawn masks).
    components : tuple of LabelComponent
        Every kept component of every channel, ``role`` ``"target"`` when at
        least ``role_changed_frac`` of it changed, else ``"source"``.
    """

    changed_px: int
    changed_outside_mask_px: int
    marked_px: int
    marked_unchanged_px: int
    components: tuple[LabelComponent, ...]

    def as_row(self) -> dict[str, int]:
        """The four pixel counts plus the number of targets and sources, as a flat dict."""
        roles = [c.role for c in self.components]
        return {
            "changed_px": self.changed_px,
            "changed_outside_mask_px": self.changed_outside_mask_px,
            "marked_px": self.marked_px,
            "marked_unchanged_px": self.marked_unchanged_px,
            "n_targets": roles.count("target"),
            "n_sources": roles.count("source"),
        }


def analyze_image(
    image: np.ndarray,
    masks: np.ndarray,
    twin: np.ndarray | None = None,
    *,
    max_side: int = 1024,
    **tuning: Any,
) -> tuple[list[CopyMoveResult], LabelCheck | None]:
    """Recover source, transform and evidence for every instance of a forged image.

    Parameters
    ----------
    image : numpy.ndarray
        Forged image, (H, W, 3) uint8 RGB; (H, W) gray is accepted.
    masks : numpy.ndarray
        (N, H, W) bool or 0/1 integers, one channel per instance.
    twin : numpy.ndarray or None
        The authentic original, same shape and type as ``image``.
    max_side : int
        The coarse search runs with the image's longest side at most this.
    **tuning
        Overrides of :data:`DEFAULT_TUNING`.

    Returns
    -------
    results : list of CopyMoveResult
        One per channel, in channel order.
    label_check : LabelCheck or None
        Only when a twin is given.

    Raises
    ------
    ImageError
        ``image`` or ``twin`` has an unusable shape or type.
    MaskError
        ``masks`` is not (N, H, W) with the image's height and width.
    ConfigError
        A tuning key is unknown.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> image = cv2.GaussianBlur(rng.normal(128, 40, (120, 160, 3)), (0, 0), 1.0)
    >>> image = np.clip(image + rng.normal(0, 4, image.shape), 0, 255).astype(np.uint8)
    >>> image[70:100, 100:140] = np.rot90(image[10:50, 20:50])  # paste, turned
    >>> masks = np.zeros((1, 120, 160), np.uint8)
    >>> masks[0, 70:100, 100:140] = 1  # the channel marks only the copy
    >>> (result,), _ = analyze_image(image, masks)
    >>> result.method, result.transform, result.source_box, result.verdict
    ('search', 'rot90', (20, 10, 49, 49), 'copy')
    """
    params = _merge_tuning(tuning)
    ctx = _Context.build(_as_rgb(image, "image"), params, max_side)
    masks = _check_masks(masks, ctx.rgb.shape[:2])
    channels = [_components(m > 0, params) for m in masks]
    changed = None
    label_check = None
    if twin is not None:
        twin_rgb = _as_rgb(twin, "twin")
        if twin_rgb.shape != ctx.rgb.shape:
            raise ImageError(
                f"twin has shape {twin_rgb.shape} but the forged image {ctx.rgb.shape}: "
                "pass the authentic image of the same case, converted to RGB",
                kind="twin_shape",
            )
        changed = _changed_pixels(ctx.rgb, twin_rgb, params["change_tol"])
        label_check = _label_check(masks, channels, changed, params)
    results = [
        _analyze_instance(ctx, i + 1, comps, changed) for i, comps in enumerate(channels)
    ]
    return results, label_check


def search_source(
    image: np.ndarray,
    region_mask: np.ndarray,
    exclude_box: Box | None = None,
    *,
    max_side: int = 1024,
    instance: int = 0,
    **tuning: Any,
) -> CopyMoveResult:
    """Search the image for the source of one region, its own location excluded.

    Works on any image, so the same search on a random region of an authentic
    image measures how often chance similarity would be called a copy.

    Parameters
    ----------
    image : numpy.ndarray
        (H, W, 3) uint8 RGB or (H, W) gray.
    region_mask : numpy.ndarray
        (H, W) bool mask of the region whose source is sought (the template).
    exclude_box : tuple of int or None
        ``(x1, y1, x2, y2)`` refused as well as the region's own box: candidates
        overlapping either by more than ``exclude_overlap`` are not considered.
    max_side : int
        The coarse search runs with the image's longest side at most this.
    instance : int
        Copied into the result.
    **tuning
        Overrides of :data:`DEFAULT_TUNING`.

    Returns
    -------
    CopyMoveResult
        ``method`` is ``"search"``, or ``"none"`` when the region is empty or no
        candidate fits outside the excluded boxes.
    """
    params = _merge_tuning(tuning)
    ctx = _Context.build(_as_rgb(image, "image"), params, max_side)
    region = np.asarray(region_mask) > 0
    if region.shape != ctx.rgb.shape[:2]:
        raise MaskError(
            f"region_mask has shape {region.shape}, expected the image's {ctx.rgb.shape[:2]}",
            kind="mask_shape",
        )
    if not region.any():
        return _empty_result(instance, None, None)
    box = bbox(region)
    exclude = (box,) if exclude_box is None else (box, tuple(exclude_box))
    return _search_result(ctx, instance, region, box, exclude, "search")


def verify_pairs(
    image: np.ndarray,
    pairs: Iterable[tuple[np.ndarray, Box]],
    *,
    max_side: int = 1024,
    **tuning: Any,
) -> list[CopyMoveResult]:
    """Score candidate (target region, source box) pairs found by other means.

    Each pair is verified exactly as a ``mask_pair`` instance is (the same code): the
    target region is matched to the source box under every transform whose scale the
    two boxes imply, refined at full resolution around the source box, and scored. It
    is the verification step of a blind screen (:mod:`eda_lib.measure.screening`),
    which proposes pairs without mask or twin. The gray image is computed once for all
    pairs.

    Parameters
    ----------
    image : numpy.ndarray
        (H, W, 3) uint8 RGB or (H, W) gray.
    pairs : iterable of (numpy.ndarray, tuple of int)
        ``(target_region, source_box)``: an (H, W) bool mask of the supposed copy and
        the inclusive ``(x1, y1, x2, y2)`` box where its source is expected (its size
        sets the scale each transform implies). Taken one at a time: a generator keeps
        only one image-sized region in memory.
    max_side, **tuning
        As for :func:`analyze_image`.

    Returns
    -------
    list of CopyMoveResult
        One per pair, ``instance`` its 1-based position, ``method`` ``"verify"`` (or
        ``"none"`` when no transform fits the boxes). The verdict follows the rules of a
        pair marked by a mask.
    """
    params = _merge_tuning(tuning)
    pixels = images.check_pixels(image, "image", bands=(1, 3))
    if pixels.ndim == 2:  # the gray of a replicated gray image is the gray image itself
        ctx = _Context(pixels, pixels.astype(np.float32), params, max_side)
    else:
        ctx = _Context.build(pixels, params, max_side)
    out = []
    for i, (region, source_box) in enumerate(pairs):
        region = np.asarray(region) > 0
        if region.shape != ctx.gray.shape:
            raise MaskError(
                f"target region has shape {region.shape}, expected the image's "
                f"{ctx.gray.shape}", kind="mask_shape",
            )
        box = bbox(region)
        if box is None:
            out.append(_empty_result(i + 1, None, None))
            continue
        target = _Component(region, box, int(region.sum()))
        source = _Component(region, tuple(int(v) for v in source_box), 0)
        out.append(_pair_result(ctx, i + 1, target, source, "verify"))
    return out


# --------------------------------------------------------------------------- inputs


def _merge_tuning(overrides: Mapping[str, Any]) -> dict[str, Any]:
    return merge_tuning(DEFAULT_TUNING, overrides, "copy-move")


def _as_rgb(a: np.ndarray, what: str) -> np.ndarray:
    """An RGB or gray uint8 image as (H, W, 3) RGB (gray replicated)."""
    a = images.check_pixels(a, what, bands=(1, 3))
    return np.repeat(a[:, :, None], 3, axis=2) if a.ndim == 2 else a


def _check_masks(masks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    masks = np.asarray(masks)
    if masks.ndim != 3 or masks.shape[1:] != shape:
        raise MaskError(
            f"masks have shape {masks.shape}, expected (N, {shape[0]}, {shape[1]}) channel-first "
            "with the image's height and width: wrap a single mask as mask[None]",
            kind="mask_shape",
        )
    return masks


# --------------------------------------------------------------------------- image context


@dataclass(frozen=True)
class _Context:
    """One image prepared for matching: RGB, gray, parameters."""

    rgb: np.ndarray
    gray: np.ndarray
    params: dict[str, Any]
    max_side: int

    @classmethod
    def build(cls, rgb: np.ndarray, params: dict[str, Any], max_side: int) -> _Context:
        # gray levels rounded to 8 bits as stored, then float32 for matching
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY).astype(np.float32)
        return cls(rgb, gray, params, max_side)


def _residual(gray: np.ndarray, mask: np.ndarray, sigma: float) -> np.ndarray:
    """``gray`` minus its Gaussian blur over the ``mask`` pixels only (normalized convolution).

    Only region pixels enter the blur, so a copy and its source get the same residual
    whatever surrounds them. Values outside the mask are meaningless.
    """
    m = mask.astype(np.float32)
    num = cv2.GaussianBlur(gray * m, (0, 0), sigma, borderType=cv2.BORDER_CONSTANT)
    den = cv2.GaussianBlur(m, (0, 0), sigma, borderType=cv2.BORDER_CONSTANT)
    return gray - num / np.maximum(den, 1e-6)


# --------------------------------------------------------------------------- masks and twin


class _Component(NamedTuple):
    mask: np.ndarray  # (H, W) bool
    box: Box
    area: int


def _components(channel: np.ndarray, params: dict[str, Any]) -> list[_Component]:
    """Connected components (8-connectivity) of one channel, largest first, speckle dropped.

    Labelling runs on the channel's bounding box only (instances cover a few percent
    of the image); each component's mask is full size.
    """
    rows = np.flatnonzero(channel.any(axis=1))
    if rows.size == 0:
        return []
    cols = np.flatnonzero(channel.any(axis=0))
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    n, labels, stats, _ = cv2.connectedComponentsWithStats(
        np.ascontiguousarray(channel[y0:y1, x0:x1], dtype=np.uint8), connectivity=8
    )
    areas = stats[1:, cv2.CC_STAT_AREA]
    floor = max(params["min_component_px"], params["min_component_frac"] * areas.max())
    comps = []
    for label in np.flatnonzero(areas >= floor) + 1:
        x, y, w, h, area = (int(v) for v in stats[label])
        mask = np.zeros(channel.shape, bool)
        mask[y0:y1, x0:x1] = labels == label
        comps.append(_Component(mask, (x + x0, y + y0, x + x0 + w - 1, y + y0 + h - 1), area))
    return sorted(comps, key=lambda c: -c.area)


def _changed_pixels(rgb: np.ndarray, twin: np.ndarray, tol: int) -> np.ndarray:
    """Pixels where some channel differs by more than ``tol`` (uint8 arithmetic, no copies)."""
    diff = cv2.absdiff(rgb, twin)
    return np.maximum(np.maximum(diff[..., 0], diff[..., 1]), diff[..., 2]) > tol


def _label_check(
    masks: np.ndarray,
    channels: list[list[_Component]],
    changed: np.ndarray,
    params: dict[str, Any],
) -> LabelCheck:
    marked = (masks > 0).any(axis=0)
    components = []
    for i, comps in enumerate(channels):
        for j, comp in enumerate(comps):
            frac = float(changed[comp.mask].mean())
            role = "target" if frac > params["role_changed_frac"] else "source"
            components.append(LabelComponent(i + 1, j, comp.box, role, frac))
    return LabelCheck(
        changed_px=int(changed.sum()),
        changed_outside_mask_px=int((changed & ~marked).sum()),
        marked_px=int(marked.sum()),
        marked_unchanged_px=int((marked & ~changed).sum()),
        components=tuple(components),
    )


# --------------------------------------------------------------------------- per instance


def _analyze_instance(
    ctx: _Context, instance: int, comps: list[_Component], changed: np.ndarray | None
) -> CopyMoveResult:
    if not comps:
        return _empty_result(instance, None, None)
    if changed is not None:
        frac = ctx.params["role_changed_frac"]
        targets = [c for c in comps if changed[c.mask].mean() > frac]
        sources = [c for c in comps if changed[c.mask].mean() <= frac]
        if targets:
            target = targets[0]
            if sources:
                pairs = [_pair_result(ctx, instance, target, s, "twin_diff") for s in sources]
                return max(pairs, key=_result_score)
            return _search_result(ctx, instance, target.mask, target.box, (target.box,),
                                  "twin_diff")
    if len(comps) >= 2:
        first, second = comps[:2]
        if _seam_strength(ctx.gray, second) > _seam_strength(ctx.gray, first):
            first, second = second, first
        return _pair_result(ctx, instance, first, second, "mask_pair")
    return _search_result(ctx, instance, comps[0].mask, comps[0].box, (comps[0].box,), "search")


def _result_score(r: CopyMoveResult) -> float:
    if r.ncc is None:
        return -2.0
    return (r.ncc + r.residual_ncc) / 2


def _seam_strength(gray: np.ndarray, comp: _Component) -> float:
    """How much the component's outline cuts the image: the seam of a pasted region.

    Mean absolute difference of neighbouring pixels on either side of the outline,
    over that of neighbouring pixels on the same side (within 6 px of the box). A
    pasted region sets unrelated pixels side by side along its outline; a source's
    outline runs through ordinary, continuous image content.
    """
    pad = 6
    x1, y1, x2, y2 = comp.box
    h, w = gray.shape
    crop = np.s_[max(0, y1 - pad) : min(h, y2 + pad + 1), max(0, x1 - pad) : min(w, x2 + pad + 1)]
    g, m = gray[crop], comp.mask[crop]
    across = within = 0.0
    n_across = n_within = 0
    for a, b, in_a, in_b in ((g[:, :-1], g[:, 1:], m[:, :-1], m[:, 1:]),
                             (g[:-1], g[1:], m[:-1], m[1:])):
        diff, cut = np.abs(a - b), in_a != in_b
        across += float(diff[cut].sum())
        n_across += int(cut.sum())
        within += float(diff[~cut].sum())
        n_within += int((~cut).sum())
    return (across / max(n_across, 1)) / (within / max(n_within, 1) + 1e-6)


# --------------------------------------------------------------------------- hypotheses


@dataclass(frozen=True)
class _Template:
    """The target's content brought back into the source frame under one hypothesis.

    Its noise residual and probe window are made on first use: most hypotheses of a
    search are dropped after the coarse match.
    """

    transform: str
    scale: float
    gray: np.ndarray  # (h, w) float32
    mask: np.ndarray  # (h, w) uint8 0/1
    sigma: float  # of the residual's blur
    probe_side: int  # longest side of the refinement probe

    @cached_property
    def resid(self) -> np.ndarray:
        """(h, w) float32 noise residual (:func:`_residual`)."""
        return _residual(self.gray, self.mask, self.sigma)

    @cached_property
    def probe(self) -> tuple[int, int, int, int]:
        """The refinement probe window (:func:`_probe_window`)."""
        return _probe_window(self.mask, self.probe_side)


class _Candidate(NamedTuple):
    score: float  # (ncc + residual_ncc) / 2
    ncc: float
    residual_ncc: float
    template: _Template
    x: int  # source box top-left
    y: int

    @property
    def box(self) -> Box:
        h, w = self.template.mask.shape
        return (self.x, self.y, self.x + w - 1, self.y + h - 1)


def _make_template(
    ctx: _Context, region: np.ndarray, box: Box, transform: str, scale: float
) -> _Template | None:
    """Cut the target's box, undo ``transform`` and ``scale``; None when too small."""
    x1, y1, x2, y2 = box
    inv = inverse_transform(transform)
    gray = np.ascontiguousarray(apply_transform(ctx.gray[y1 : y2 + 1, x1 : x2 + 1], inv))
    mask = np.ascontiguousarray(apply_transform(region[y1 : y2 + 1, x1 : x2 + 1], inv))
    mask = mask.astype(np.uint8)
    if scale != 1.0:
        size = (round(gray.shape[1] / scale), round(gray.shape[0] / scale))
        if min(size) < 2:
            return None
        shrink = cv2.INTER_AREA if scale > 1 else cv2.INTER_LINEAR
        gray = cv2.resize(gray, size, interpolation=shrink)
        mask = (cv2.resize(mask.astype(np.float32), size) > 0.5).astype(np.uint8)
    if mask.sum() < 4:
        return None
    return _Template(transform, scale, gray, mask, ctx.params["residual_sigma"],
                     ctx.params["probe_side"])


# --------------------------------------------------------------------------- matching


def _match(
    ctx: _Context, templates: list[_Template], exclude: tuple[Box, ...]
) -> list[_Candidate]:
    """Coarse masked match of every template over the image, then full-resolution refinement.

    The coarse scale brings the template to about ``coarse_template_px`` pixels and
    the image to at most ``max_side`` and ``coarse_max_px``. Returns the refined
    candidates, best first, one per distinct (template, position).
    """
    p = ctx.params
    h, w = ctx.gray.shape
    f = min(
        1.0,
        ctx.max_side / max(h, w),
        math.sqrt(p["coarse_template_px"] / max(int(t.mask.sum()) for t in templates)),
        math.sqrt(p["coarse_max_px"] / (h * w)),
    )
    cw, ch = max(1, round(w * f)), max(1, round(h * f))
    fx, fy = cw / w, ch / h
    coarse = ctx.gray if f == 1.0 else cv2.resize(ctx.gray, (cw, ch), interpolation=cv2.INTER_AREA)
    integrals = None  # made once, for the templates that fill their box
    peaks = []
    for t in templates:
        th, tw = t.mask.shape
        tg, tm = t.gray, t.mask
        if f != 1.0:
            size = (max(1, round(tw * fx)), max(1, round(th * fy)))
            tg = cv2.resize(t.gray, size, interpolation=cv2.INTER_AREA)
            tm = _coarse_mask(t.mask, size)
        if th > h or tw > w or tg.shape[0] > ch or tg.shape[1] > cw:
            continue
        if integrals is None and tm.all():
            integrals = _integrals(coarse)
        score = _masked_ncc_map(coarse, integrals, tg, tm)
        xs, ys = np.arange(score.shape[1]) / fx, np.arange(score.shape[0]) / fy
        score[_overlap(xs, ys, tw, th, exclude) > p["exclude_overlap"]] = -np.inf
        for cy, cx, s in _top_peaks(score, p["peaks_per_map"], tg.shape):
            peaks.append((s, t, round(xs[cx]), round(ys[cy])))
    peaks.sort(key=lambda q: -q[0])
    radius = math.ceil(1.5 / min(fx, fy)) + 2
    found: dict[tuple[int, int, int], _Candidate] = {}
    for _, t, x, y in peaks[: p["candidates"]]:
        cand = _refine(ctx, t, x, y, radius, exclude)
        if cand is not None:
            found[(id(t), cand.x, cand.y)] = cand
    return sorted(found.values(), key=lambda c: -c.score)


def _coarse_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The template mask at the coarse scale, keeping only pixels wholly inside it.

    A coarse pixel on the outline averages region and surroundings, and the
    surroundings of a copy differ from those of its source: on thin or ragged
    shapes they would drown the region's own content. Shapes too thin to keep a
    quarter of their pixels that way keep the half-covered ones instead.
    """
    cover = cv2.resize(mask.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    inside, half = cover >= 0.99, cover >= 0.5
    keep = inside if inside.sum() >= max(4, half.sum() / 4) else half
    return keep.astype(np.uint8) if keep.sum() >= 4 else np.ones_like(keep, np.uint8)


def _masked_ncc_map(
    image: np.ndarray, integrals: tuple[np.ndarray, np.ndarray] | None, templ: np.ndarray,
    mask: np.ndarray,
) -> np.ndarray:
    """Masked ``TM_CCOEFF_NORMED`` of ``templ`` over ``image``, made safe to take maxima of.

    A flat window has no defined score, and an almost flat one scores near 1 by a
    tiny denominator. Both score -1, as does any window whose standard deviation
    over the template's mask is below a quarter of the template's own: it cannot
    hold a copy of it. ``integrals`` is ``cv2.integral2(image)`` in float64 (made
    here when None), used when the mask is the whole box.
    """
    if mask.all():
        score = cv2.matchTemplate(image, templ, cv2.TM_CCOEFF_NORMED)
        kh, kw = templ.shape
        n = kh * kw
        total, squares = (
            (t[kh:, kw:] - t[:-kh, kw:] - t[kh:, :-kw] + t[:-kh, :-kw]) / n
            for t in (integrals or _integrals(image))
        )
        window_var = squares - total * total
    else:
        score, window_var = _masked_ccoeff_normed(image, templ, mask)
    floor = (0.25 * float(templ[mask > 0].std())) ** 2
    score[~np.isfinite(score) | (window_var < floor)] = -1.0
    return np.minimum(score, 1.0, out=score)


def _masked_ccoeff_normed(image: np.ndarray, templ: np.ndarray, mask: np.ndarray
                          ) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV's masked ``TM_CCOEFF_NORMED``, from three plain cross-correlations.

    With ``T' = mask * (templ - mean of templ over the mask)`` (so ``sum(T') = 0``), the
    score at a window is ``sum(I T') / sqrt(sum(T'^2) * n var_mask(I))``, where the
    window's masked sum and sum of squares are cross-correlations of ``I`` and ``I^2``
    with the mask. Each cross-correlation costs a fifth of OpenCV's masked match. The
    image is centred on its mean first, so that the variance is not a small difference
    of large float32 numbers. Flat windows give inf or NaN, as in OpenCV.

    Returns the score map and the variance of the image under the mask at every
    window.
    """
    m = mask.astype(np.float32)
    n = float(m.sum())
    t = (templ - float(templ[mask > 0].mean())) * m
    centred = image - np.float32(image.mean())
    num = cv2.matchTemplate(centred, t, cv2.TM_CCORR)
    s1 = cv2.matchTemplate(centred, m, cv2.TM_CCORR)
    s2 = cv2.matchTemplate(centred * centred, m, cv2.TM_CCORR)
    var_n = np.maximum(s2 - s1 * s1 / n, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = num / np.sqrt(var_n * float((t * t).sum()))
    return score, var_n / n


def _integrals(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integral images of ``image`` and of its square, in float64."""
    total, squares = cv2.integral2(image, sdepth=cv2.CV_64F, sqdepth=cv2.CV_64F)
    return total, squares


def _overlap(
    xs: np.ndarray, ys: np.ndarray, w: int, h: int, boxes: tuple[Box, ...]
) -> np.ndarray:
    """Largest overlap share of a (w, h) box at every (ys, xs) top-left with any of ``boxes``.

    Each intersection is divided by the smaller of the two areas.
    """
    out = np.zeros((len(ys), len(xs)))
    for bx1, by1, bx2, by2 in boxes:
        iw = np.clip(np.minimum(xs + w, bx2 + 1) - np.maximum(xs, bx1), 0, None)
        ih = np.clip(np.minimum(ys + h, by2 + 1) - np.maximum(ys, by1), 0, None)
        smaller = min(w * h, (bx2 - bx1 + 1) * (by2 - by1 + 1))
        np.maximum(out, np.outer(ih, iw) / smaller, out=out)
    return out


def _top_peaks(score: np.ndarray, k: int, shape: tuple[int, int]) -> list[tuple[int, int, float]]:
    """Up to ``k`` maxima, each at least half a template away from the others."""
    score = score.copy()
    ry, rx = max(1, shape[0] // 2), max(1, shape[1] // 2)
    out = []
    for _ in range(k):
        idx = int(np.argmax(score))
        cy, cx = divmod(idx, score.shape[1])
        s = float(score[cy, cx])
        if not np.isfinite(s) or s <= -1.0:
            break
        out.append((cy, cx, s))
        score[max(0, cy - ry) : cy + ry + 1, max(0, cx - rx) : cx + rx + 1] = -np.inf
    return out


def _refine(
    ctx: _Context, t: _Template, x: int, y: int, radius: int, exclude: tuple[Box, ...]
) -> _Candidate | None:
    """Locate ``t`` near the top-left (x, y) with a probe cut from it; score the whole region."""
    p = ctx.params
    th, tw = t.mask.shape
    h, w = ctx.gray.shape
    py1, px1, py2, px2 = t.probe
    probe, pmask = t.gray[py1:py2, px1:px2], t.mask[py1:py2, px1:px2]
    # template top-left positions searched: [x - r, x + r] clipped so the template fits
    lx, hx = max(0, x - radius), min(w - tw, x + radius)
    ly, hy = max(0, y - radius), min(h - th, y + radius)
    if lx > hx or ly > hy:
        return None
    window = ctx.gray[ly + py1 : hy + py2, lx + px1 : hx + px2]
    score = _masked_ncc_map(window, None, probe, pmask)
    xs, ys = lx + np.arange(score.shape[1]), ly + np.arange(score.shape[0])
    score[_overlap(xs, ys, tw, th, exclude) > p["exclude_overlap"]] = -np.inf
    top = float(score.max())
    if not np.isfinite(top):
        return None
    # ties (a stripe, a flat band) go to the position nearest the expected one
    ties = np.argwhere(score >= top - 1e-4)
    dy, dx = min(ties, key=lambda yx: (yx[0] + ly - y) ** 2 + (yx[1] + lx - x) ** 2)
    sx, sy = lx + int(dx), ly + int(dy)
    m = t.mask > 0
    src = ctx.gray[sy : sy + th, sx : sx + tw]
    ncc = _ncc(t.gray[m], src[m])
    rncc = _ncc(t.resid[m], _residual(src, t.mask, p["residual_sigma"])[m])
    return _Candidate((ncc + rncc) / 2, ncc, rncc, t, sx, sy)


def _probe_window(mask: np.ndarray, side: int) -> tuple[int, int, int, int]:
    """A window of at most ``side`` px around the mask's most interior point."""
    h, w = mask.shape
    if h <= side and w <= side:
        return 0, 0, h, w
    dist = cv2.distanceTransform(np.pad(mask, 1), cv2.DIST_L2, 3)[1:-1, 1:-1]
    cy, cx = divmod(int(np.argmax(dist)), w)
    y1 = min(max(0, cy - side // 2), max(0, h - side))
    x1 = min(max(0, cx - side // 2), max(0, w - side))
    return y1, x1, min(h, y1 + side), min(w, x1 + side)


def _ncc(a: np.ndarray, b: np.ndarray) -> float:
    a = a.astype(np.float64) - a.mean()
    b = b.astype(np.float64) - b.mean()
    den = math.sqrt(float((a * a).sum()) * float((b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else 0.0


# --------------------------------------------------------------------------- results


def _search_result(
    ctx: _Context, instance: int, region: np.ndarray, box: Box, exclude: tuple[Box, ...],
    method: str,
) -> CopyMoveResult:
    """Search the whole image for the source of ``region`` under every transform and scale."""
    p = ctx.params
    templates = [
        t for name in TRANSFORMS for s in p["search_scales"]
        if (t := _make_template(ctx, region, box, name, s)) is not None
    ]
    cands = _match(ctx, templates, exclude) if templates else []
    if not cands:
        return _empty_result(instance, box, _texture(ctx, region, box))
    cands = _refine_scales(ctx, region, box, cands, exclude)
    best = cands[0]
    rivals = [c.score for c in cands[1:] if box_iou(c.box, best.box) < 0.5]
    return _result(ctx, instance, method, region, box, best, rivals, paired=False)


def _pair_result(
    ctx: _Context, instance: int, target: _Component, source: _Component, method: str
) -> CopyMoveResult:
    """Match the target to the source component under the transforms their boxes allow.

    The mask fixes where the source is up to a few pixels, so each hypothesis is only
    refined at full resolution around the source box (15 % of its size, 4 px at least).
    """
    sx1, sy1, sx2, sy2 = source.box
    radius = max(4, round(0.15 * max(sx2 - sx1, sy2 - sy1)))
    cands = []
    for name in TRANSFORMS:
        scale = _pair_scale(target.box, source.box, name)
        t = None if scale is None else _make_template(ctx, target.mask, target.box, name, scale)
        if t is None:
            continue
        th, tw = t.mask.shape
        x, y = round((sx1 + sx2 + 1 - tw) / 2), round((sy1 + sy2 + 1 - th) / 2)
        cand = _refine(ctx, t, x, y, radius, (target.box,))
        if cand is not None:
            cands.append(cand)
    if not cands:
        return _empty_result(instance, target.box, _texture(ctx, target.mask, target.box))
    cands = _refine_scales(ctx, target.mask, target.box, cands, (target.box,))
    best = cands[0]
    rivals = [c.score for c in cands[1:]]
    return _result(ctx, instance, method, target.mask, target.box, best, rivals, paired=True)


def _refine_scales(
    ctx: _Context, region: np.ndarray, box: Box, cands: list[_Candidate],
    exclude: tuple[Box, ...],
) -> list[_Candidate]:
    """Refine the scale of the leading candidates that are resampled or match loosely.

    Only contenders are refined: candidates within ``refine_scale_within`` of the best
    score (a wrong flip or place scores far lower, and no scale makes it match). All
    candidates are then re-ranked.
    """
    p = ctx.params
    lead = cands[0].score - p["refine_scale_within"]
    top = [
        _refine_scale(ctx, region, box, c, exclude)
        if c.score >= lead and (c.template.scale != 1.0
                                or c.residual_ncc < p["refine_scale_below"]) else c
        for c in cands[: p["refine_scale_top"]]
    ]
    return sorted(top + cands[p["refine_scale_top"] :], key=lambda c: -c.score)


def _refine_scale(
    ctx: _Context, region: np.ndarray, box: Box, best: _Candidate, exclude: tuple[Box, ...]
) -> _Candidate:
    """Hill-climb the scale of ``best`` in halving log-steps, keeping the source centre.

    Steps start at 4 % and stop when they change the template's longer side by less
    than half a pixel; at most 24 scales are tried.
    """
    finest = 0.5 / max(best.template.mask.shape)
    step = 0.04
    for _ in range(12):
        if step < finest:
            break
        improved = False
        for factor in (math.exp(step), math.exp(-step)):
            t = _make_template(ctx, region, box, best.template.transform,
                               best.template.scale * factor)
            if t is None:
                continue
            (bh, bw), (th, tw) = best.template.mask.shape, t.mask.shape
            x, y = round(best.x + (bw - tw) / 2), round(best.y + (bh - th) / 2)
            cand = _refine(ctx, t, x, y, 2, exclude)
            if cand is not None and cand.score > best.score:
                best, improved = cand, True
                break
        if not improved:
            step /= 2
    return best


def _pair_scale(target: Box, source: Box, transform: str) -> float | None:
    """Scale implied by the boxes under ``transform``; None when the aspect ratios disagree.

    Boxes within a pixel of each other's size give exactly 1.
    """
    tw, th = target[2] - target[0] + 1, target[3] - target[1] + 1
    sw, sh = source[2] - source[0] + 1, source[3] - source[1] + 1
    if transform in SWAPS_AXES:
        tw, th = th, tw
    if abs(tw - sw) <= 1 and abs(th - sh) <= 1:
        return 1.0
    sx, sy = tw / sw, th / sh
    if abs(math.log(sx / sy)) > 0.15:  # aspect ratios more than ~16 % apart
        return None
    return round(math.sqrt(sx * sy), 3)


def _result(
    ctx: _Context, instance: int, method: str, region: np.ndarray, box: Box,
    best: _Candidate, rivals: list[float], paired: bool,
) -> CopyMoveResult:
    """Assemble the result of ``best``; ``rivals`` are the competing hypotheses' scores."""
    texture = _texture(ctx, region, box)
    ident = _identical_frac(ctx, best)
    sbox = best.box
    return CopyMoveResult(
        instance=instance,
        method=method,
        target_box=box,
        source_box=sbox,
        transform=best.template.transform,
        scale=round(best.template.scale, 3),
        dx=box[0] - sbox[0],
        dy=box[1] - sbox[1],
        ncc=best.ncc,
        residual_ncc=best.residual_ncc,
        identical_frac=ident,
        texture=texture,
        margin=best.score - max(rivals) if rivals else None,
        verdict=_verdict(best, ident, texture, paired),
    )


def _empty_result(instance: int, box: Box | None, texture: int | None) -> CopyMoveResult:
    return CopyMoveResult(
        instance, "none", box, None, None, None, None, None, None, None, None, texture, None,
        "undecidable",
    )


def _verdict(best: _Candidate, identical_frac: float, texture: int, paired: bool) -> str:
    if texture < TEXTURE_MIN:
        return "undecidable"
    identical = (best.template.scale == 1.0 and identical_frac >= IDENTICAL_COPY
                 and best.ncc >= NCC_COPY)
    resampled = (paired and best.ncc >= NCC_PAIR_COPY
                 and best.residual_ncc >= RESIDUAL_NCC_PAIR_COPY)
    return "copy" if identical or resampled else "unsure"


def _texture(ctx: _Context, region: np.ndarray, box: Box) -> int:
    """Number of the region's texture-bearing pixels (see :func:`_bearing`)."""
    x1, y1, x2, y2 = box
    crop = np.s_[y1 : y2 + 1, x1 : x2 + 1]
    return int(_bearing(ctx.gray[crop], region[crop]).sum())


def _bearing(gray: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Pixels of ``mask`` that carry fine, noise-like texture.

    Immerkaer's operator (the product of second differences along both axes) is zero
    on flat and clipped areas, ramps and straight edges. A pixel bears texture when
    its response reaches what noise of one gray level gives at one standard
    deviation, far above 8-bit rounding. Flat backgrounds, bars and gutters bear
    nothing; a copy reproduces the bearing pixels exactly, chance does not.
    """
    inner = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8),
                      borderType=cv2.BORDER_CONSTANT, borderValue=0) > 0
    response = cv2.filter2D(np.ascontiguousarray(gray), cv2.CV_32F, _IMMERKAER)
    return inner & (np.abs(response) >= 6.0)


def _identical_frac(ctx: _Context, best: _Candidate) -> float:
    """Share of texture-bearing pixels whose aligned gray values agree within ``identical_tol``.

    Aligned in space (the candidate's transform, scale and position) and in intensity
    (gain and offset fitted by least squares on unclipped pixels, the prediction
    clipped to 0..255), so a copy whose brightness or contrast was changed still
    counts as identical. Flat pixels agree by chance and are left out, unless the
    region has no bearing pixel at all.
    """
    t = best.template
    th, tw = t.mask.shape
    m = _bearing(t.gray, t.mask)
    if not m.any():
        m = t.mask > 0
    target = t.gray[m].astype(np.float64)
    source = ctx.gray[best.y : best.y + th, best.x : best.x + tw][m].astype(np.float64)
    fit = (target > 0) & (target < 255) & (source > 0) & (source < 255)
    if fit.sum() < 8:
        fit[:] = True
    design = np.stack([source, np.ones_like(source)], axis=1)
    coef, *_ = np.linalg.lstsq(design[fit], target[fit], rcond=None)
    predicted = np.clip(design @ coef, 0, 255)
    return float((np.abs(predicted - target) <= ctx.params["identical_tol"]).mean())
