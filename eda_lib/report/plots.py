"""Figures of the suite: pure drawing functions over arrays and tables.

Nothing here reads files. Callers pass RGB arrays ``(H, W, 3) uint8``, mask stacks
``(N, H, W)`` (bool or 0/1) and tidy DataFrames; every figure function returns a
:class:`matplotlib.figure.Figure` and :func:`save_figure` writes it.

Conventions shared by every figure:

* Figures are built with :class:`~matplotlib.figure.Figure` directly, not through
  ``pyplot``: they are not registered with a GUI backend, so a notebook shows a returned
  figure exactly once (no second copy from the inline backend's auto-display), nothing
  piles up in ``pyplot``'s figure list, and no ``close`` is needed.
* Colours: one per label (:data:`LABEL_COLORS`), one per copy-move verdict
  (:data:`VERDICT_COLORS`) and one per instance (:func:`instance_color`, the tab10
  palette, instance ``k`` is ``masks[k - 1]`` and is labelled ``"k"``).
* Images are shown as aspect-preserving thumbnails, never squashed to a square.
* Masks are shrunk for display with "any" pooling (a display pixel is on when any pixel
  it covers is on) so that small instances never vanish from a thumbnail; masks are
  enlarged with nearest neighbour.
* Drawing with OpenCV happens on uint8 images only (OpenCV 5 refuses other depths).
* Text is literal: titles and captions carry case_ids and file names, so matplotlib's
  mathtext is off while a figure is built (a ``$`` in a name is a dollar sign).
* Charts are placed by matplotlib's constrained layout; figures of images are laid out
  by hand, in inches, from bands for titles and legends and the measured widths of
  their texts (no layout pass, most of a figure's cost otherwise), and a grid of images
  is one image in one axes, made at the pixels the file is saved with.
* Images are drawn by one OpenCV resize to the canvas pixels they cover
  (:class:`_ShownImage`), not by matplotlib's resampling.
"""

from __future__ import annotations

import contextlib
import functools
import math
import struct
import zlib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import cv2
import matplotlib
import numpy as np
import pandas as pd
from matplotlib import patheffects
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.image import AxesImage
from matplotlib.patches import Rectangle
from matplotlib.textpath import TextToPath
from matplotlib.transforms import Affine2D

from ..dataset import images
from ..errors import ImageError, MaskError
from ..files import write_bytes_atomic
from ..geometry import bbox

#: Colour of each image label, used by every table plot.
LABEL_COLORS: dict[str, str] = {"authentic": "#4477AA", "forged": "#EE6677"}
#: Colour of each copy-move verdict, in every plot that groups by verdict.
VERDICT_COLORS: dict[str, str] = {"copy": "#228833", "unsure": "#CCBB44", "undecidable": "#BBBBBB"}
#: Colours of groups that are not labels (e.g. a ``mode`` or ``split`` column), in order.
OTHER_GROUP_COLORS: tuple[str, ...] = ("#228833", "#CCBB44", "#66CCEE", "#AA3377", "#BBBBBB")
#: Instance colours as uint8 RGB (tab10): instance k uses entry (k - 1) mod 10.
INSTANCE_COLORS: tuple[tuple[int, int, int], ...] = tuple(
    tuple(round(255 * c) for c in rgb) for rgb in matplotlib.colormaps["tab10"].colors
)
#: Outline colours of the copy-move source (donor) and target (pasted copy) regions.
SOURCE_COLOR = "#00A0FF"
TARGET_COLOR = "#FF2020"
#: Colormap of every |difference| image.
DIFF_CMAP = "magma"
#: Neutral grey (uint8) behind letterboxed thumbnails.
BACKGROUND = 150
#: Resolution at which figures are sized (pixels per inch) and saved by default.
DPI = 110
#: Widest a figure is shown, in pixels: the content column of a section page (``main``
#: of :mod:`eda_lib.report.pages`, 1120 px wide). :func:`save_figure` writes no wider.
DISPLAY_WIDTH = 1120
#: zlib level of the saved PNGs: figures are mostly photographs, which level 1 packs
#: within a few percent of level 6, three times as fast.
PNG_LEVEL = 1
#: PNG row filter and zlib strategy of the saved figures (see :func:`encode_png`).
PNG_FILTER = cv2.IMWRITE_PNG_FILTER_PAETH
PNG_STRATEGY = cv2.IMWRITE_PNG_STRATEGY_RLE

_MAX_WIDTH = 16.0  # inches: widest figure a notebook shows without shrinking it much
_WIDE = 2.0  # images wider than this (W/H) are stacked vertically in multi-panel figures
_MISSING = "(missing)"
_EMPTY = "(none)"
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_TEXT_PATH = TextToPath()  # measures a text's width without a renderer


def instance_color(k: int) -> tuple[int, int, int]:
    """uint8 RGB colour of instance ``k`` (1-based: instance 1 is ``masks[0]``)."""
    return INSTANCE_COLORS[(k - 1) % len(INSTANCE_COLORS)]


def group_color(name: str, index: int) -> str:
    """Colour of a group: its label or verdict colour, else the ``index``-th other colour."""
    known = LABEL_COLORS.get(name) or VERDICT_COLORS.get(name)
    return known or OTHER_GROUP_COLORS[index % len(OTHER_GROUP_COLORS)]


def _mpl_color(rgb: tuple[int, int, int]) -> tuple[float, float, float]:
    return tuple(c / 255 for c in rgb)


# --------------------------------------------------------------------------- arrays


def _check_rgb(rgb: np.ndarray, name: str = "rgb") -> None:
    images.check_pixels(rgb, name, bands=(3,))


def _check_masks(masks: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Validate an (N, H, W) stack against the image (H, W); return it as bool."""
    if not isinstance(masks, np.ndarray) or masks.ndim != 3 or masks.shape[1:] != shape:
        found = masks.shape if isinstance(masks, np.ndarray) else type(masks).__name__
        raise MaskError(
            f"masks must be an (N, H, W) stack with (H, W) = {shape} of the image, found "
            f"{found}; masks are channel-first, add an axis with m[None] for a single mask",
            kind="mask_shape_mismatch",
        )
    return masks != 0


def _fit(shape: tuple[int, ...], max_side: int) -> tuple[int, int]:
    """(h, w) with the aspect ratio of ``shape`` and longest side ``max_side``."""
    h, w = shape[:2]
    scale = max_side / max(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


def thumbnail(rgb: np.ndarray, max_side: int) -> np.ndarray:
    """Resize an image so that its longest side is ``max_side``, keeping its aspect ratio.

    Shrinking uses area averaging (``INTER_AREA``); small images are enlarged with
    nearest neighbour so they stay crisp and the overlays drawn on them stay legible.
    A side never drops below 1 pixel.

    Parameters
    ----------
    rgb : ndarray
        ``(H, W)`` or ``(H, W, C)`` image.
    max_side : int
        Longest side of the result, in pixels (>= 1).

    Returns
    -------
    ndarray
        The resized image, same dtype and channels.

    Examples
    --------
    >>> thumbnail(np.zeros((100, 400, 3), np.uint8), 128).shape
    (32, 128, 3)
    """
    if max_side < 1:
        raise ValueError(f"max_side must be >= 1, got {max_side}")
    h, w = _fit(rgb.shape, max_side)
    if (h, w) == rgb.shape[:2]:
        return rgb.copy()
    shrinking = h * w < rgb.shape[0] * rgb.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_NEAREST_EXACT
    return cv2.resize(rgb, (w, h), interpolation=interpolation)


def _resize_max(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a 2-D array to ``size``; when shrinking each output pixel is a block maximum."""
    h, w = img.shape
    factor = max(math.ceil(h / size[0]), math.ceil(w / size[1]))
    if factor > 1:
        padded = np.pad(img, ((0, -h % factor), (0, -w % factor)))
        ph, pw = padded.shape
        img = padded.reshape(ph // factor, factor, pw // factor, factor).max(axis=(1, 3))
    return cv2.resize(img, (size[1], size[0]), interpolation=cv2.INTER_NEAREST_EXACT)


def resize_masks(masks: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a mask stack for display.

    Enlarging is nearest neighbour. Shrinking is "any" pooling: a result pixel is on when
    any mask pixel it covers is on, so an instance of a few pixels in a large image
    still shows in its thumbnail (masks grow by less than one display pixel).

    Parameters
    ----------
    masks : ndarray
        ``(N, H, W)`` stack, bool or 0/1; N may be 0.
    size : tuple of int
        ``(h, w)`` of the result.

    Returns
    -------
    ndarray
        ``(N, h, w)`` bool.
    """
    out = np.zeros((masks.shape[0], *size), dtype=bool)
    for i, mask in enumerate(masks):
        out[i] = _resize_max((mask != 0).astype(np.uint8), size) > 0
    return out


class _Stroke(NamedTuple):
    """Line and text sizes of the overlay drawn on one image."""

    line: int
    font_scale: float
    text: int
    pad: int


def _stroke(shape: tuple[int, ...], line: int) -> _Stroke:
    """Sizes for an image, from the side of the square of the same area (so thin strips
    get small text): ``line`` up to 640 px, growing in proportion beyond."""
    side = math.sqrt(shape[0] * shape[1])
    thickness = max(line, round(line * side / 640))
    text_px = max(11, round(0.04 * side))  # cap height of the digits
    font_scale = text_px / 22  # FONT_HERSHEY_SIMPLEX digits are 22 px high at scale 1
    return _Stroke(thickness, font_scale, max(1, round(font_scale * 1.6)), max(2, text_px // 4))


def _draw_label(img: np.ndarray, text: str, box: tuple[int, int, int, int], color, s: _Stroke):
    """Draw a tag "text" at the box's top-left corner: above it, else just inside it."""
    h, w = img.shape[:2]
    (tw, th), _ = cv2.getTextSize(text, _FONT, s.font_scale, s.text)
    tag_w, tag_h = tw + 2 * s.pad, th + 2 * s.pad
    x1, y1 = box[:2]
    top = y1 - tag_h - s.line // 2
    if top < 0:  # no room above the box: put the tag inside it
        top = y1 + s.line // 2 + 1
    left = max(0, min(x1 - s.line // 2, w - tag_w))
    top = max(0, min(top, h - tag_h))
    cv2.rectangle(img, (left, top), (left + tag_w - 1, top + tag_h - 1), color, -1)
    origin = (left + s.pad, top + s.pad + th)
    cv2.putText(img, text, origin, _FONT, s.font_scale, (0, 0, 0), s.text + 2, cv2.LINE_AA)
    cv2.putText(img, text, origin, _FONT, s.font_scale, (255, 255, 255), s.text, cv2.LINE_AA)


def overlay_instances(
    rgb: np.ndarray,
    masks: np.ndarray,
    *,
    alpha: float = 0.4,
    boxes: bool = True,
    labels: bool = True,
    line: int = 2,
) -> np.ndarray:
    """Draw each instance of a mask stack over an image.

    Instance k (``masks[k - 1]``) gets a semi-transparent fill and a contour in
    :func:`instance_color`, a bounding box and a tag "k" (light text on a dark outline,
    kept inside the image). Line width and text grow with the image area.

    Parameters
    ----------
    rgb : ndarray
        ``(H, W, 3)`` uint8 image; it is not modified.
    masks : ndarray
        ``(N, H, W)`` stack, bool or 0/1, N may be 0.
    alpha : float
        Opacity of the fill (0 draws outlines only).
    boxes, labels : bool
        Draw the bounding boxes, the instance tags.
    line : int
        Line width in pixels for images up to about 640 x 640 px.

    Returns
    -------
    ndarray
        ``(H, W, 3)`` uint8 copy with the overlay.

    Raises
    ------
    ImageError
        ``rgb`` is not ``(H, W, 3)`` uint8.
    MaskError
        ``masks`` is not ``(N, H, W)`` with the image's H and W.
    """
    _check_rgb(rgb)
    masks = _check_masks(masks, rgb.shape[:2])
    out = rgb.astype(np.float32)
    for k, mask in enumerate(masks, start=1):
        out[mask] = (1 - alpha) * out[mask] + alpha * np.array(instance_color(k), np.float32)
    out = np.clip(np.rint(out), 0, 255).astype(np.uint8)
    s = _stroke(out.shape, line)
    found = [(k, mask, bbox(mask)) for k, mask in enumerate(masks, start=1)]
    for k, mask, _ in found:
        contours, _ = cv2.findContours(
            mask.astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE
        )
        cv2.drawContours(out, contours, -1, instance_color(k), s.line, cv2.LINE_AA)
    for k, _, box in found:
        if box is None:
            continue
        if boxes:
            cv2.rectangle(out, box[:2], box[2:], instance_color(k), max(1, s.line // 2))
        if labels:
            _draw_label(out, str(k), box, instance_color(k), s)
    return out


def _abs_diff(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-pixel max over channels of |a - b|, as (H, W) uint8."""
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16)).astype(np.uint8)
    return diff.max(axis=2) if diff.ndim == 3 else diff


def _letterbox(img: np.ndarray, tile: int) -> np.ndarray:
    """Centre an RGB image of longest side <= tile on a tile x tile neutral canvas."""
    canvas = np.full((tile, tile, 3), BACKGROUND, np.uint8)
    h, w = img.shape[:2]
    top, left = (tile - h) // 2, (tile - w) // 2
    canvas[top : top + h, left : left + w] = img
    return canvas


# --------------------------------------------------------------------------- figures


def _literal_text(draw: Callable[..., Figure]) -> Callable[..., Figure]:
    """Build the figure with mathtext off: every text drawn from data (a case_id, a file
    name) shows as written, and a ``$`` never starts a formula."""
    @functools.wraps(draw)
    def drawn(*args, **kwargs) -> Figure:
        with matplotlib.rc_context({"text.parse_math": False}):
            return draw(*args, **kwargs)

    return drawn


def _figure(figsize: tuple[float, float]) -> Figure:
    return Figure(figsize=figsize, dpi=DPI, layout="constrained")


def _no_data(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, transform=ax.transAxes, ha="center", va="center", color="0.4")


class _ShownImage(AxesImage):
    """An image resized by OpenCV to the pixels it covers on the canvas, once per draw.

    matplotlib resamples an image to the canvas with its own filters, in floating point,
    the colour channels and the alpha channel apart, through masked arrays: about 12 ms
    per image, 1.4 of the 9 CPU seconds the eleven sections' own code took on a dataset
    of 544 images. The images here are already thumbnails of about the size shown,
    opaque, upright, and fill their axes, so one resize of the RGBA pixels does: by area
    averaging when either side shrinks, nearest neighbour when enlarging (as
    :func:`thumbnail`) or when the image asks for ``interpolation="nearest"``. The pixel
    box is the one matplotlib would draw into. Anything else (a rotated, mirrored or
    partly clipped image, transparency, a magnifying renderer) is left to matplotlib.
    """

    def make_image(self, renderer, magnification=1.0, unsampled=False):
        # docstring inherited
        drawn = None if unsampled or magnification != 1 else self._resized()
        return drawn if drawn is not None else super().make_image(renderer, magnification, unsampled)

    def _resized(self) -> tuple[np.ndarray, float, float, Affine2D] | None:
        trans, data = self.get_transform(), self.get_array()
        if data is None or self.origin != "upper" or self.get_alpha() is not None \
                or not trans.is_affine:
            return None
        matrix = trans.get_matrix()
        if matrix[0, 1] or matrix[1, 0]:
            return None
        left, right, bottom, top = self.get_extent()
        (x0, y0), (x1, y1) = trans.transform([(left, bottom), (right, top)])
        clip = self.get_clip_box() or self.axes.bbox
        if not (x1 > x0 and y1 > y0) or (self.get_clip_on() and (
                clip.x0 > x0 + 0.5 or clip.y0 > y0 + 0.5 or clip.x1 < x1 - 0.5 or clip.y1 < y1 - 0.5)):
            return None
        # the pixel box of matplotlib's _make_image: each edge rounded to the nearest border
        left_px, bottom_px = math.floor(x0 + 0.5), math.ceil(y0 - 0.5 - 1e-8)
        w, h = math.floor(x1 + 0.5 + 1e-8) - left_px, math.ceil(y1 - 0.5) - bottom_px
        if w <= 0 or h <= 0:
            return None
        rgba = self.to_rgba(data, bytes=True, norm=data.ndim == 2)
        if (h, w) != rgba.shape[:2]:
            # a side that shrinks is averaged, even when the other grows (a stretched
            # image): area averaging repeats the pixels along a side that grows
            shrinking = h < rgba.shape[0] or w < rgba.shape[1]
            nearest = not shrinking or self.get_interpolation() in ("nearest", "none")
            rgba = cv2.resize(rgba, (w, h),
                              interpolation=cv2.INTER_NEAREST_EXACT if nearest else cv2.INTER_AREA)
        # the renderer takes rows from the bottom of the canvas up
        return np.ascontiguousarray(rgba[::-1]), left_px, bottom_px, Affine2D()


def _imshow(ax: Axes, img: np.ndarray, *, cmap: str | None = None, vmin: float | None = None,
            vmax: float | None = None, interpolation: str | None = None,
            extent: tuple[float, float, float, float] | None = None,
            aspect: str = "equal") -> AxesImage:
    """``ax.imshow`` for the figures of images, drawn as a :class:`_ShownImage`: the same
    image, limits and aspect, with only the options these figures use."""
    norm = Normalize(vmin, vmax) if vmin is not None or vmax is not None else None
    image = _ShownImage(ax, cmap=cmap, norm=norm, interpolation=interpolation, extent=extent)
    image.set_data(img)
    image.set_clip_path(ax.patch)
    ax.add_image(image)
    image.set_extent(image.get_extent())  # sets the axes' limits, as imshow does
    ax.set_aspect(aspect)
    return image


def _image_title(ax: Axes, title: str, fontsize: float) -> None:
    """Title an image axes and hide its frame and ticks.

    The title is pinned where matplotlib would put it anyway (its baseline at the top of
    the axes, plus the usual pad): without a visible axis nothing can overlap it, but
    left to place itself, the title would have every tick of both axes made and measured
    at each layout and draw, the largest cost of a figure of images.
    """
    ax.set_title(title, fontsize=fontsize, y=1.0)
    ax.set_axis_off()


def _show(ax: Axes, img: np.ndarray, title: str, **imshow_kw) -> None:
    """An image without axes frame, with a short title."""
    if img.ndim == 2:
        imshow_kw = {"cmap": "gray", "vmin": 0, "vmax": 255, **imshow_kw}
    _imshow(ax, img, **imshow_kw)
    _image_title(ax, title, 10)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def save_figure(fig: Figure, figures_dir: Path, name: str, dpi: float = DPI) -> Path:
    """Save a figure as ``figures_dir / f"{name}.png"`` with reproducible bytes.

    The PNG carries no "Software" (matplotlib version) entry, so the same figure saved
    twice gives identical files. The figure is left open for the notebook to display.

    It is written at the size it is shown: at ``dpi``, but never wider than
    :data:`DISPLAY_WIDTH` pixels (a wider figure is saved at the resolution that makes
    it that wide, which is what a page shows of it anyway; what it draws is unchanged).
    A figure without transparency (all of them: the background is white) is stored as
    RGB; the pixels are matplotlib's (:func:`render`), encoded by :func:`encode_png`.

    Parameters
    ----------
    fig : Figure
        Figure to save.
    figures_dir : Path
        Folder, created if missing.
    name : str
        File stem, without ``.png``; a ``/`` or ``\\`` in it (from a case_id of a flat
        folder's subfolder, ``sub/fig1``) becomes ``_``, so the file stays in ``figures_dir``.
    dpi : float
        Resolution, lowered when the figure would be wider than :data:`DISPLAY_WIDTH`.

    Returns
    -------
    Path
        The PNG written.
    """
    figures_dir = Path(figures_dir)
    figures_dir.mkdir(parents=True, exist_ok=True)
    stem = name.replace("/", "_").replace("\\", "_")
    path = figures_dir / f"{stem}.png"
    dpi = shown_dpi(fig, dpi)
    rgba = render(fig, dpi)
    opaque = bool((rgba[..., 3] == 255).all())
    return write_bytes_atomic(path, encode_png(rgba[..., :3] if opaque else rgba, dpi))


def encode_png(pixels: np.ndarray, dpi: float) -> bytes:
    """A PNG of ``(H, W, 3)`` RGB or ``(H, W, 4)`` RGBA uint8 pixels, with its resolution.

    Encoded by libpng (through OpenCV) at zlib level :data:`PNG_LEVEL`, every row with
    the Paeth filter (:data:`PNG_FILTER`) and zlib's run-length strategy
    (:data:`PNG_STRATEGY`): lossless, and on the demo report's figures twice as fast as
    Pillow at the same level (which tries all five filters on every row) for files a
    tenth smaller. The only other chunk is ``pHYs`` (``dpi``), as Pillow writes it: no
    time stamp, no software version, so the same pixels give the same bytes.
    """
    bgr = cv2.cvtColor(pixels, cv2.COLOR_RGBA2BGRA if pixels.shape[2] == 4 else cv2.COLOR_RGB2BGR)
    ok, encoded = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, PNG_LEVEL,
                                             cv2.IMWRITE_PNG_FILTER, PNG_FILTER,
                                             cv2.IMWRITE_PNG_STRATEGY, PNG_STRATEGY])
    if not ok:
        raise ImageError(f"could not encode a {pixels.shape} figure as PNG", kind="png_encode")
    data = encoded.tobytes()
    per_metre = int(dpi / 0.0254 + 0.5)
    body = b"pHYs" + struct.pack(">IIB", per_metre, per_metre, 1)
    chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))
    header_end = 8 + 8 + 13 + 4  # signature, then the IHDR chunk: length, type, data, CRC
    return data[:header_end] + chunk + data[header_end:]


def render(fig: Figure, dpi: float = DPI) -> np.ndarray:
    """The pixels ``fig.savefig(..., dpi=dpi, facecolor="white")`` writes, as an
    ``(H, W, 4)`` uint8 array, drawn once.

    ``savefig`` of a figure with a layout engine draws it twice: once without rendering
    so that the engine can place the axes, then for real, resampling every image both
    times. Here the engine places the axes from their text extents alone (what its
    execution needs: no image is resampled), then the figure is drawn once, with the
    engine off as ``savefig`` has it for its second draw, and the pixels are taken from
    the canvas (no PNG is encoded and decoded on the way). The figure's dpi, face colour,
    canvas and layout engine are restored afterwards.
    """
    canvas, engine = fig.canvas, fig.get_layout_engine()
    facecolor, figure_dpi = fig.get_facecolor(), fig.dpi
    agg = FigureCanvasAgg(fig)  # becomes fig.canvas
    try:
        fig.dpi = dpi
        fig.set_facecolor("white")
        if engine is not None:
            if fig.axes:
                with contextlib.suppress(ValueError):  # as Figure.draw has it
                    engine.execute(fig)
            fig.set_layout_engine("none")
        agg.draw()
        return np.array(agg.buffer_rgba())
    finally:
        if engine is not None:
            fig.set_layout_engine(engine)
        fig.set_facecolor(facecolor)
        fig.dpi = figure_dpi
        fig.set_canvas(canvas)


def shown_dpi(fig: Figure, dpi: float = DPI) -> float:
    """``dpi``, or less when the figure would be wider than :data:`DISPLAY_WIDTH` pixels.

    Examples
    --------
    >>> shown_dpi(Figure(figsize=(6, 4)))
    110
    >>> shown_dpi(Figure(figsize=(16, 4)))
    70.0
    """
    width = float(fig.get_figwidth())
    return dpi if width * dpi <= DISPLAY_WIDTH else DISPLAY_WIDTH / width


# --------------------------------------------------------------------------- tables


def _ordered(values: Sequence) -> list:
    """Distinct values sorted, labels (authentic, forged) first."""
    try:
        order = sorted(values)
    except TypeError:  # mixed types
        order = sorted(values, key=str)
    rank = {name: i for i, name in enumerate(LABEL_COLORS)}
    return sorted(order, key=lambda v: rank.get(v, len(rank)))


def _key_text(value) -> str:
    """Display text of a group key: whole floats without ".0" (counts read back as floats),
    and ``"(none)"`` for an empty text (the label of unlabelled images), which matplotlib
    would leave out of a legend."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value) or _EMPTY


def _group_keys(series: pd.Series) -> pd.Categorical:
    """String keys of a grouping column in display order; missing values become "(missing)"."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        present = set(series.dropna())
        order = [c for c in series.cat.categories if c in present]
    else:
        order = _ordered(list(series.dropna().unique()))
    names = [_key_text(v) for v in order]
    keys = series.astype(object).map(_key_text).where(series.notna(), _MISSING)
    if series.isna().any():
        names.append(_MISSING)
    return pd.Categorical(keys, categories=names)


def _numeric(series: pd.Series) -> np.ndarray:
    """A column as float64 values, with anything not a number (text, NA) as NaN."""
    return pd.to_numeric(series, errors="coerce").astype("float64").to_numpy(na_value=np.nan)


def _bin_edges(values: np.ndarray, bins: int, log_x: bool) -> np.ndarray:
    if not log_x:
        return np.histogram_bin_edges(values, bins=bins)
    lo, hi = values.min(), values.max()
    if lo == hi:
        lo, hi = lo / 2, hi * 2
    return np.geomspace(lo, hi, bins + 1)


@_literal_text
def hist_by_label(
    df: pd.DataFrame,
    column: str,
    *,
    by: str = "label",
    bins: int = 40,
    log_x: bool = False,
    title: str,
    xlabel: str,
    ylabel: str = "count",
    ax: Axes | None = None,
) -> Figure:
    """Overlaid step histograms of one numeric column, one per group.

    All groups share the same bin edges. Legend entries give the number of values drawn
    and how many were missing (NaN, infinite, or <= 0 on a log axis).

    Parameters
    ----------
    df : DataFrame
        Table with ``column`` and ``by``; may be empty.
    column : str
        Numeric column to histogram.
    by : str
        Grouping column (default ``"label"``).
    bins : int
        Number of bins.
    log_x : bool
        Log x axis with log-spaced bins.
    title, xlabel, ylabel : str
        Title and axis labels (give the unit in ``xlabel``).
    ax : Axes, optional
        Draw into this axes instead of a new figure.

    Returns
    -------
    Figure
        The (root) figure drawn on.
    """
    if ax is None:
        ax = _figure((7.5, 4.2)).subplots()
    values = _numeric(df[column])
    usable = np.isfinite(values) & ((values > 0) if log_x else True)
    keys = _group_keys(df[by])
    if usable.any():
        edges = _bin_edges(values[usable], bins, log_x)
        for i, name in enumerate(keys.categories):
            in_group = np.asarray(keys == name)
            v = values[in_group & usable]
            missing = int(in_group.sum()) - v.size
            label = f"{name} (n={v.size}" + (f", {missing} missing)" if missing else ")")
            color = group_color(name, i)
            ax.hist(v, bins=edges, histtype="stepfilled", color=color, alpha=0.12)
            ax.hist(v, bins=edges, histtype="step", linewidth=1.8, color=color, label=label)
        ax.legend(title=by, fontsize=9)
    else:
        _no_data(ax, f"no usable values of {column!r} ({len(df)} rows)")
    if log_x:
        ax.set_xscale("log")
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    return ax.get_figure(root=True)


def _count_table(df: pd.DataFrame, x: str, hue: str | None) -> pd.DataFrame:
    """Counts with one row per x category and one column per hue group, in display order."""
    x_keys = _group_keys(df[x])
    hue_keys = _group_keys(df[hue]) if hue else pd.Categorical(["all"] * len(df))
    frame = pd.DataFrame({"x": x_keys, "hue": hue_keys})
    counts = frame.groupby(["x", "hue"], observed=True).size().unstack(fill_value=0)
    return counts.reindex(
        index=x_keys.categories, columns=hue_keys.categories, fill_value=0
    ).astype(int)


@_literal_text
def bar_counts(
    df: pd.DataFrame,
    x: str,
    *,
    hue: str | None = None,
    title: str,
    xlabel: str,
    ylabel: str = "images",
) -> Figure:
    """Bar chart of row counts per category of ``x``, grouped by ``hue``, values on bars.

    Parameters
    ----------
    df : DataFrame
        Table, one row per counted thing; may be empty.
    x : str
        Category column (missing values are counted as "(missing)").
    hue : str, optional
        Second category column: one bar per group inside each x category.
    title, xlabel, ylabel : str
        Title and axis labels.

    Returns
    -------
    Figure
    """
    counts = _count_table(df, x, hue)
    n_x, n_hue = counts.shape
    fig = _figure((min(_MAX_WIDTH, max(6.0, 1.0 + 0.35 * n_x * (n_hue + 1))), 4.2))
    ax = fig.subplots()
    if counts.empty:
        _no_data(ax, f"no rows to count ({len(df)} rows)")
    width = 0.8 / max(n_hue, 1)
    for j, name in enumerate(counts.columns):
        offset = (j - (n_hue - 1) / 2) * width
        color = group_color(name, j) if hue else "#4C6E91"
        bars = ax.bar(np.arange(n_x) + offset, counts[name], width, color=color, label=name)
        ax.bar_label(bars, padding=2, fontsize=8)
    long_names = any(len(str(c)) > 8 for c in counts.index) or n_x > 12
    ax.set_xticks(np.arange(n_x), [str(c) for c in counts.index], rotation=30 if long_names else 0)
    if hue and n_hue:
        ax.legend(title=hue, fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.margins(y=0.12)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(axis="y", alpha=0.3)
    return fig


def _marker_area(count: np.ndarray | int) -> np.ndarray:
    """Scatter marker area (points^2) for a number of images of the same size."""
    return 12 + 30 * np.sqrt(count)


def _aspect_lines(ax: Axes, lo: float, hi: float) -> None:
    """Reference lines W/H = 1, 2, 1/2 with labels near the top-right of the plot."""
    for aspect, text in ((1.0, "W/H = 1"), (2.0, "W/H = 2"), (0.5, "W/H = 1/2")):
        ax.axline((1.0, 1.0 / aspect), (10.0, 10.0 / aspect), color="0.55", lw=0.9, ls="--",
                  zorder=0)
        w = hi / 1.4 * min(1.0, aspect)
        ax.text(w, w / aspect, text, rotation=45, rotation_mode="anchor", ha="right",
                va="bottom", fontsize=8, color="0.35")


def _size_legend(ax: Axes, max_count: int) -> None:
    """Legend of marker sizes: 1, 10, 100, ... and the largest count."""
    counts = sorted({10**i for i in range(int(math.log10(max_count)) + 1)} | {max_count})
    handles = [ax.scatter([], [], s=_marker_area(c), color="0.6") for c in counts]
    legend = ax.legend(handles, [str(c) for c in counts], title="images of\nthis size",
                       loc="lower left", bbox_to_anchor=(1.02, 0.0), fontsize=8,
                       title_fontsize=8, labelspacing=1.2, frameon=False)
    ax.add_artist(legend)


@_literal_text
def scatter_sizes(images_df: pd.DataFrame) -> Figure:
    """Width against height of every image, by label, on log axes.

    One marker per distinct (label, width, height); its area grows with the number of
    images of that size. The first group (authentic) is drawn as filled discs and the
    others as rings, so that groups sharing a size stay visible. Dashed lines mark the
    aspect ratios W/H = 1, 2 and 1/2.

    Parameters
    ----------
    images_df : DataFrame
        One row per image with columns ``width``, ``height`` (pixels) and ``label``;
        may be empty.

    Returns
    -------
    Figure
    """
    fig = _figure((8.6, 6.6))
    ax = fig.subplots()
    sizes = pd.DataFrame({c: _numeric(images_df[c]) for c in ("width", "height")})
    ok = (sizes > 0).all(axis=1)
    keys = _group_keys(images_df["label"][ok.to_numpy()])
    table = sizes[ok].assign(label=keys).groupby(["label", "width", "height"], observed=True).size()
    ax.set_xscale("log")
    ax.set_yscale("log")
    if table.empty:
        _no_data(ax, f"no image sizes ({len(images_df)} rows)")
    else:
        lo, hi = sizes[ok].min().min() / 1.6, sizes[ok].max().max() * 1.6
        _size_legend(ax, int(table.max()))
        for i, name in enumerate(keys.categories):
            part = table[table.index.get_level_values("label") == name]
            w, h = part.index.get_level_values("width"), part.index.get_level_values("height")
            color = group_color(name, i)
            style = (
                {"color": color, "alpha": 0.5, "linewidths": 0}
                if i == 0
                else {"facecolors": "none", "edgecolors": color, "linewidths": 1.6}
            )
            label = f"{name} (n={int(part.sum())})"
            ax.scatter(w, h, s=_marker_area(part.to_numpy()), label=label, **style)
        ax.set(xlim=(lo, hi), ylim=(lo, hi), aspect="equal")
        _aspect_lines(ax, lo, hi)
        ax.legend(title="label", loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=9)
    ax.set(title="Image sizes", xlabel="width (px)", ylabel="height (px)")
    ax.grid(alpha=0.3, which="both", lw=0.4)
    return fig


# --------------------------------------------------------------------------- images


@_literal_text
def example_panel(rgb: np.ndarray, masks: np.ndarray, *, title: str, display_size: int) -> Figure:
    """One image in three panels: original | union of the masks | instance overlay.

    Parameters
    ----------
    rgb : ndarray
        ``(H, W, 3)`` uint8 image.
    masks : ndarray
        ``(N, H, W)`` stack (N may be 0).
    title : str
        First line of the title; the image size and instance count are added.
    display_size : int
        Longest side in pixels of each panel's thumbnail.

    Returns
    -------
    Figure
        Three image axes (a column of three for images wider than 2:1).
    """
    _check_rgb(rgb)
    full = _check_masks(masks, rgb.shape[:2])
    h, w = rgb.shape[:2]
    thumb = thumbnail(rgb, display_size)
    small = resize_masks(full, thumb.shape[:2])
    titles = ["original", f"union mask: {full.any(axis=0).mean():.1%} of the image", "instances"]
    fig, axes, _ = _panel_sheet(w / h, display_size, titles)
    _show(axes[0], thumb, titles[0])
    _show(axes[1], small.any(axis=0), titles[1], cmap="gray", vmin=0, vmax=1,
          interpolation="nearest")
    _show(axes[2], overlay_instances(thumb, small), titles[2])
    _suptitle(fig, f"{title}\n{w}×{h} px, {_plural(len(full), 'instance')}")
    return fig


# Bands of a figure laid out by hand (inches): the figure title, an image title (one line
# of 10 pt bold and its pad), a legend row, the gaps, and a colour bar with its ticks and
# label.
_SUPTITLE_BAND = 0.45
_TITLE_BAND = 0.32
_LEGEND_BAND = 0.42
_MARGIN = 0.12
_GAP = 0.25
_BAR_GAP, _BAR_WIDTH, _BAR_SPACE = 0.08, 0.14, 0.85
_BAR_BELOW = 0.8  # a horizontal colour bar with its ticks and label
# ... and the bands of two-line titles: the figure's (12 pt) and an image's (10 pt bold)
_SUPTITLE2_BAND = 0.72
_TITLE2_BAND = 0.52


def _text_width(text: str, size: float, weight: str | None = None) -> float:
    """Width in inches of the widest line of ``text`` at ``size`` points (``weight``:
    matplotlib's, by default that of axes titles), measured without a renderer."""
    prop = FontProperties(size=size, weight=weight or matplotlib.rcParams["axes.titleweight"])
    return max((_TEXT_PATH.get_text_width_height_descent(line, prop, ismath=False)[0]
                for line in text.split("\n")), default=0.0) / 72


def _bar_box(box: tuple[float, float, float, float], title: str, label: str
             ) -> tuple[float, float, float, float]:
    """Where a vertical colour bar goes beside the image at ``box`` (inches, as
    :func:`_fit_box` gives): right of the image and of its centred ``title``, at least
    as tall as its ``label`` (10 pt), centred on the image."""
    left, top, w, h = box
    right = max(left + w, left + w / 2 + _text_width(title, 10) / 2)
    bar_h = max(h, _text_width(label, 10, "normal") + 0.3)
    return right + _BAR_GAP, top + (h - bar_h) / 2, _BAR_WIDTH, bar_h


def _suptitle(fig: Figure, text: str) -> None:
    """The figure's title, its top a margin below the top of a figure laid out by hand."""
    fig.suptitle(text, y=1 - _MARGIN / fig.get_figheight(), va="top")


def _fit_box(box: tuple[float, float, float, float], aspect: float
             ) -> tuple[float, float, float, float]:
    """The largest box of ``aspect`` (width / height) centred in ``box``; boxes are (left,
    top, width, height) in inches from the figure's top-left corner."""
    left, top, width, height = box
    w = min(width, height * aspect)
    h = w / aspect
    return left + (width - w) / 2, top + (height - h) / 2, w, h


def _inch_axes(fig: Figure, box: tuple[float, float, float, float], label: str = "") -> Axes:
    """An axes at ``box``: (left, top, width, height) in inches from the top-left corner."""
    fig_w, fig_h = fig.get_size_inches()
    left, top, width, height = box
    return fig.add_axes((left / fig_w, 1 - (top + height) / fig_h, width / fig_w, height / fig_h),
                        label=label)


class _Cell(NamedTuple):
    """One grid cell: the image, its checked masks (or None) and its caption."""

    rgb: np.ndarray
    masks: np.ndarray | None
    caption: str


def _cell(caption: str, rgb: np.ndarray, masks: np.ndarray | None) -> _Cell:
    """Check an item of a grid and caption it with the image's size (and its number of
    instances when masks are given)."""
    _check_rgb(rgb)
    h, w = rgb.shape[:2]
    info = f"{w}×{h} px"
    if masks is not None:
        masks = _check_masks(masks, (h, w))
        info += f", {_plural(len(masks), 'instance')}"
    return _Cell(rgb, masks, f"{caption}\n{info}")


def _tile(cell: _Cell, tile: int) -> np.ndarray:
    """The cell's letterboxed thumbnail, its instances overlaid when it has masks."""
    thumb = thumbnail(cell.rgb, tile)
    if cell.masks is not None:
        thumb = overlay_instances(thumb, resize_masks(cell.masks, thumb.shape[:2]))
    return _letterbox(thumb, tile)


# A grid cell (inches): the tile's side plus a band for its two-line caption (9 pt bold),
# and the white margin around each tile.
_CAPTION_BAND = 0.5
_CAPTION_FONT = {"size": 9, "weight": "bold"}
_TILE_PAD = 0.04
_ROW_LABEL_BAND = 0.4


def _cell_width(cells: Sequence[_Cell], side: float, cols: int) -> float:
    """Width of a grid cell (inches): the tile's ``side``, or the widest caption line
    when wider (tiny tiles), but no more than a ``cols``-wide grid can take."""
    widest = max((_text_width(cell.caption, **_CAPTION_FONT) for cell in cells), default=0.0)
    return max(side, min(widest + 2 * _TILE_PAD, _MAX_WIDTH / cols))


def _tile_sheet(fig: Figure, box: tuple[float, float, float, float], cells: Sequence[_Cell],
                *, cols: int, side: float, width: float) -> Axes:
    """Draw grid cells as one image in one axes at ``box`` (inches from the top-left
    corner of ``fig``): ``cols`` cells per row, each ``width`` inches wide and ``side`` +
    :data:`_CAPTION_BAND` tall, its caption above its tile (of side ``side``, centred).

    One axes and one image for the whole grid: an axes per tile cost more to make and
    draw than the tiles themselves. The image is made at the resolution the figure is
    saved at (:func:`shown_dpi`), one pixel of it per pixel of the file, and drawn without
    resampling; unused cells stay white.
    """
    dpi = shown_dpi(fig)
    cell_w, band, pad = round(width * dpi), round(_CAPTION_BAND * dpi), round(_TILE_PAD * dpi)
    tile = max(1, round(side * dpi) - 2 * pad)
    cell_h = tile + 2 * pad + band
    rows = max(1, math.ceil(len(cells) / cols))
    canvas = np.full((rows * cell_h, cols * cell_w, 3), 255, np.uint8)
    for k, cell in enumerate(cells):
        top, left = (k // cols) * cell_h + band, (k % cols) * cell_w + (cell_w - tile) // 2
        canvas[top : top + tile, left : left + tile] = _tile(cell, tile)
    ax = _inch_axes(fig, box)
    _imshow(ax, canvas, extent=(-0.5, canvas.shape[1] - 0.5, canvas.shape[0] - 0.5, -0.5),
            aspect="auto", interpolation="nearest")
    ax.set_axis_off()
    for k, cell in enumerate(cells):
        ax.text((k % cols + 0.5) * cell_w - 0.5, (k // cols) * cell_h + band - pad, cell.caption,
                ha="center", va="bottom", fontproperties=FontProperties(**_CAPTION_FONT))
    return ax


@_literal_text
def overlay_grid(
    items: list[tuple[str, np.ndarray, np.ndarray | None]],
    *,
    tile: int,
    cols: int = 4,
    suptitle: str,
) -> Figure:
    """A grid of images, each letterboxed in a square cell, with its masks overlaid.

    Parameters
    ----------
    items : list of (caption, rgb, masks or None)
        ``rgb`` is ``(H, W, 3)`` uint8; ``masks`` an ``(N, H, W)`` stack or None for
        an image without masks. May be empty.
    tile : int
        Side of each square cell in pixels at :data:`DPI`; each thumbnail's longest side
        is that less a thin white margin, in the pixels the figure is saved with (fewer
        when the grid is wider than :data:`DISPLAY_WIDTH`, :func:`save_figure`).
    cols : int
        Cells per row.
    suptitle : str
        Title of the figure.

    Returns
    -------
    Figure
        One axes showing every cell as one image (:func:`_tile_sheet`), each caption (the
        item's caption, then its size and number of instances) a text of that axes above
        its tile; no axes without items.
    """
    cells = [_cell(*item) for item in items]
    cols = max(1, min(cols, len(cells)))
    rows = max(1, math.ceil(len(cells) / cols))
    side = min(tile / DPI, _MAX_WIDTH / cols)
    cell_w = _cell_width(cells, side, cols)
    width, height = cols * cell_w, rows * (side + _CAPTION_BAND) + _SUPTITLE_BAND
    fig = Figure(figsize=(width, height), dpi=DPI)
    if cells:
        _tile_sheet(fig, (0, _SUPTITLE_BAND, width, height - _SUPTITLE_BAND), cells,
                    cols=cols, side=side, width=cell_w)
    else:
        fig.text(0.5, 0.5, "no images to show", ha="center", va="center", color="0.4")
    _suptitle(fig, suptitle)
    return fig


@_literal_text
def auth_vs_forged(
    authentic: list[tuple[str, np.ndarray]],
    forged: list[tuple[str, np.ndarray, np.ndarray]],
    *,
    tile: int,
    suptitle: str = "Authentic and forged images",
) -> Figure:
    """Two labelled rows of letterboxed images: authentic above, forged (with overlay) below.

    Parameters
    ----------
    authentic : list of (caption, rgb)
        Authentic images, ``(H, W, 3)`` uint8.
    forged : list of (caption, rgb, masks)
        Forged images and their ``(N, H, W)`` masks.
    tile : int
        Side of each square cell in pixels at :data:`DPI` (as in :func:`overlay_grid`).
    suptitle : str
        Title of the figure.

    Returns
    -------
    Figure
        A title text per row (``"authentic (n=...)"``, ``"forged (n=...)"``) above the
        row's images, drawn as one axes each (:func:`_tile_sheet`; none for an empty row).
    """
    rows = (("authentic", [_cell(c, rgb, None) for c, rgb in authentic]),
            ("forged", [_cell(*item) for item in forged]))
    cols = max(1, len(authentic), len(forged))
    side = min(tile / DPI, _MAX_WIDTH / cols)
    cell_w = _cell_width(rows[0][1] + rows[1][1], side, cols)
    width = max(cols * cell_w, 4.0)
    row_h = _ROW_LABEL_BAND + side + _CAPTION_BAND
    height = _SUPTITLE_BAND + 2 * row_h + _MARGIN
    fig = Figure(figsize=(width, height), dpi=DPI)
    for k, (label, cells) in enumerate(rows):
        top = _SUPTITLE_BAND + k * row_h
        fig.text(0.5, 1 - top / height, f"{label} (n={len(cells)})", ha="center", va="top",
                 color=LABEL_COLORS[label], fontweight="bold", fontsize="large")
        if cells:
            _tile_sheet(fig, ((width - len(cells) * cell_w) / 2, top + _ROW_LABEL_BAND,
                              len(cells) * cell_w, side + _CAPTION_BAND), cells,
                        cols=len(cells), side=side, width=cell_w)
    _suptitle(fig, suptitle)
    return fig


def _show_diff(ax: Axes, diff: np.ndarray, size: tuple[int, int], title: str, label: str,
               cax: Axes) -> None:
    """A |difference| image shrunk by block maximum, with its colour bar in ``cax``
    (horizontal when ``cax`` is wider than tall)."""
    image = _imshow(ax, _resize_max(diff, size), cmap=DIFF_CMAP, vmin=0,
                    vmax=max(1, int(diff.max())), interpolation="nearest")
    _image_title(ax, title, 10)
    w, h = cax.get_position().size * cax.get_figure().get_size_inches()
    ax.get_figure().colorbar(image, cax=cax, label=label,
                             orientation="horizontal" if w > h else "vertical")


def _outline(ax: Axes, masks: np.ndarray) -> None:
    """Contours of each instance mask, in its colour, over an image axes."""
    for k, mask in enumerate(masks, start=1):
        if mask.any() and min(mask.shape) > 1:
            ax.contour(mask, levels=[0.5], colors=[_mpl_color(instance_color(k))], linewidths=1.5)


def _diff_title(diff: np.ndarray, union: np.ndarray) -> str:
    changed = diff > 0
    if not changed.any():
        return "|difference|: no pixel differs"
    inside = (changed & union).sum() / changed.sum()
    return (
        f"|difference|: {changed.mean():.1%} of pixels differ,\n"
        f"{inside:.0%} of them inside the mask"
    )


@_literal_text
def twin_panel(
    authentic_rgb: np.ndarray,
    forged_rgb: np.ndarray,
    masks: np.ndarray,
    *,
    title: str,
    display_size: int,
) -> Figure:
    """A forged image beside its authentic twin: authentic | forged + outlines | |difference|.

    The difference is the per-pixel maximum over channels of ``|forged - authentic|``
    (0..255), shown with :data:`DIFF_CMAP` and a colour bar; it is shrunk for display by
    block maximum so isolated changed pixels stay visible. Mask outlines are drawn on the
    forged image and on the difference.

    Parameters
    ----------
    authentic_rgb, forged_rgb : ndarray
        ``(H, W, 3)`` uint8 images of the same size (drop alpha before calling).
    masks : ndarray
        ``(N, H, W)`` stack of the forged image.
    title : str
        First line of the title.
    display_size : int
        Longest side in pixels of each panel's thumbnail.

    Returns
    -------
    Figure
        Three image axes plus a colour bar axes.

    Raises
    ------
    ImageError
        An image is not ``(H, W, 3)`` uint8, or the two sizes differ.
    """
    _check_rgb(authentic_rgb, "authentic_rgb")
    _check_rgb(forged_rgb, "forged_rgb")
    if authentic_rgb.shape != forged_rgb.shape:
        raise ImageError(
            f"twin images must have the same size, found authentic {authentic_rgb.shape} and "
            f"forged {forged_rgb.shape}; only pairs with equal (H, W) can be compared",
            kind="twin_size_mismatch",
        )
    full = _check_masks(masks, forged_rgb.shape[:2])
    h, w = forged_rgb.shape[:2]
    diff = _abs_diff(forged_rgb, authentic_rgb)
    thumb_shape = _fit((h, w), display_size)
    small = resize_masks(full, thumb_shape)
    titles = ["authentic", "forged, mask outlines", _diff_title(diff, full.any(axis=0))]
    label = "max |forged − authentic| over RGB"
    fig, axes, cax = _panel_sheet(w / h, display_size, titles, bar_label=label)
    _show(axes[0], thumbnail(authentic_rgb, display_size), titles[0])
    forged = overlay_instances(thumbnail(forged_rgb, display_size), small, alpha=0, boxes=False)
    _show(axes[1], forged, titles[1])
    _show_diff(axes[2], diff, thumb_shape, titles[2], label, cax)
    _outline(axes[2], small)
    _suptitle(fig, f"{title}\n{w}×{h} px, {_plural(len(full), 'instance')}")
    return fig


def _box_patch(ax: Axes, box: tuple[int, int, int, int], color: str, name: str) -> None:
    """Outline an inclusive full-resolution box (x1, y1, x2, y2) on the image axes."""
    x1, y1, x2, y2 = box
    rect = Rectangle((x1 - 0.5, y1 - 0.5), x2 - x1 + 1, y2 - y1 + 1, fill=False, edgecolor=color,
                     linewidth=2, label=f"{name}: x {x1}–{x2}, y {y1}–{y2}")
    rect.set_path_effects([patheffects.withStroke(linewidth=3.5, foreground="black")])
    ax.add_patch(rect)


def _centre(box: tuple[int, int, int, int]) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def _draw_arrow(ax: Axes, source_box, target_box) -> None:
    """Arrow from the source centre to the target centre."""
    note = ax.annotate("", xy=_centre(target_box), xytext=_centre(source_box),
                       arrowprops={"arrowstyle": "-|>", "color": "#FFD400", "lw": 2,
                                   "mutation_scale": 18, "shrinkA": 0, "shrinkB": 0})
    note.arrow_patch.set_path_effects([patheffects.withStroke(linewidth=4, foreground="black")])


def _crop_panels(aligned_source, target_crop) -> list[tuple[str, np.ndarray]]:
    """(title, image) of each crop panel that the given crops allow."""
    for name, crop in (("aligned_source", aligned_source), ("target_crop", target_crop)):
        if crop is not None:
            images.check_pixels(crop, name, bands=(1, 3))
    panels = []
    if aligned_source is not None:
        panels.append(("aligned source", aligned_source))
    if target_crop is not None:
        panels.append(("target", target_crop))
    if aligned_source is not None and target_crop is not None:
        if aligned_source.shape != target_crop.shape:
            raise ImageError(
                f"aligned_source {aligned_source.shape} and target_crop {target_crop.shape} "
                "must have the same shape: warp the source onto the target's grid first",
                kind="crop_shape_mismatch",
            )
        panels.append(("|difference|", _abs_diff(aligned_source, target_crop)))
    return panels


_DIFF_LABEL = "max |source − target|"


def _crop_title(name: str, crop: np.ndarray) -> str:
    """Title of a crop panel: its size, or for the difference its mean and maximum."""
    if name == "|difference|":
        return f"|difference|: mean {crop.mean():.1f}, max {crop.max()}"
    return f"{name} ({crop.shape[1]}×{crop.shape[0]} px)"


def _draw_crop(ax: Axes, name: str, crop: np.ndarray, side: int, cax: Axes | None) -> None:
    """One crop panel, shown with longest side ``side``; the difference with its colour
    bar in ``cax``."""
    if name == "|difference|":
        _show_diff(ax, crop, _fit(crop.shape, side), _crop_title(name, crop), _DIFF_LABEL, cax)
    else:
        _show(ax, thumbnail(crop, side), _crop_title(name, crop))


def _row_boxes(titles: Sequence[str], aspect: float, panel_h: float, band: float, top: float
               ) -> tuple[list[tuple[float, float, float, float]], float]:
    """Boxes (inches) of a row of images of aspect W/H and at most ``panel_h`` tall, side
    by side from the left margin, each centred in a cell as wide as the image or as its
    title, whichever is wider; and the right edge of the last cell."""
    boxes, left = [], _MARGIN
    for title in titles:
        cell = max(panel_h * aspect, _text_width(title, 10) + 0.1)
        boxes.append(_fit_box((left, top, cell, band), aspect))
        left += cell + _GAP
    return boxes, left - _GAP


def _panel_sheet(aspect: float, display_size: int, titles: Sequence[str],
                 bar_label: str | None = None) -> tuple[Figure, list[Axes], Axes | None]:
    """A figure laid out by hand with one panel per title, all of one image of aspect
    W/H, each under its title (up to two lines), below a two-line figure title: a row,
    or a column for strips wider than :data:`_WIDE`. With ``bar_label``, a colour bar for
    the last panel: beside it in a row, below it in a column.

    Returns the figure, the panels' axes and the colour bar's axes (None without one).
    """
    n = len(titles)
    side = min(display_size / DPI, _MAX_WIDTH)
    if aspect > _WIDE:
        panel_h = max(side / aspect, 0.5)
        row_h = _TITLE2_BAND + panel_h
        width = side + 2 * _MARGIN
        height = _SUPTITLE2_BAND + n * row_h + (_BAR_BELOW if bar_label else 0.0) + _MARGIN
        fig = Figure(figsize=(width, height), dpi=DPI)
        axes = [_inch_axes(fig, _fit_box((_MARGIN, _SUPTITLE2_BAND + k * row_h + _TITLE2_BAND,
                                          side, panel_h), aspect)) for k in range(n)]
        cax = None
        if bar_label:
            cax = _inch_axes(fig, (_MARGIN + 0.1 * side, _SUPTITLE2_BAND + n * row_h + _BAR_GAP,
                                   0.8 * side, _BAR_WIDTH), label="<colorbar>")
        return fig, axes, cax
    reserve = _BAR_SPACE if bar_label else 0.0
    panel_h = min(side / max(aspect, 1.0),
                  (_MAX_WIDTH - 2 * _MARGIN - reserve - (n - 1) * _GAP) / (n * aspect))
    band = max(panel_h, _text_width(bar_label, 10, "normal") + 0.3) if bar_label else panel_h
    top = _SUPTITLE2_BAND + _TITLE2_BAND
    boxes, right = _row_boxes(titles, aspect, panel_h, band, top)
    bar = _bar_box(boxes[-1], titles[-1], bar_label) if bar_label else None
    if bar:
        right = bar[0] + _BAR_SPACE - _BAR_GAP  # the bar, its ticks and its label
    fig = Figure(figsize=(right + _MARGIN, top + band + _MARGIN), dpi=DPI)
    axes = [_inch_axes(fig, box) for box in boxes]
    cax = _inch_axes(fig, bar, label="<colorbar>") if bar else None
    return fig, axes, cax


def _crop_sheet(aspect: float, crops: list[tuple[str, np.ndarray]], display_size: int
                ) -> tuple[Figure, Axes, list[Axes], Axes | None]:
    """A figure laid out by hand: the image (aspect W/H) on top, a row below it with one
    panel per crop, all crops of one shape, and a colour bar right of the difference.

    Every axes is placed from the bands above and the measured widths of the titles, so
    the figure needs no layout engine: constrained layout measured each axes' text twice
    per figure, the largest single cost of drawing the panel. The image and each crop
    fill their boxes at their own aspect ratio, so nothing is left for an engine to adjust.

    Returns the figure, the image axes, the crop axes (in ``crops``' order) and the
    colour bar's axes (None without a difference panel).
    """
    image_h = min(display_size / DPI, 6.5, 12.0 / aspect)
    titles = [_crop_title(name, crop) for name, crop in crops]
    diff = any(name == "|difference|" for name, _ in crops)
    reserve = _BAR_SPACE if diff else 0.0
    n = len(crops)
    min_width = max(image_h * aspect, 3.0 * n, 4.0) + 0.8
    cell = (min_width - 2 * _MARGIN - reserve - _GAP * (n - 1)) / max(n, 1)
    crop_aspect = crops[0][1].shape[1] / crops[0][1].shape[0] if crops else 1.0
    crops_h = min(2.4, cell / crop_aspect)
    band = max(crops_h, _text_width(_DIFF_LABEL, 10, "normal") + 0.3) if diff else crops_h
    top = _SUPTITLE_BAND + _TITLE_BAND
    crops_top = top + image_h + _LEGEND_BAND + _TITLE_BAND
    boxes, right = _row_boxes(titles, crop_aspect, crops_h, band, crops_top)
    bar = _bar_box(boxes[-1], titles[-1], _DIFF_LABEL) if diff else None
    if bar:
        right = bar[0] + _BAR_SPACE - _BAR_GAP
    width = max(min_width, right + _MARGIN)
    height = crops_top + band + _MARGIN if crops else top + image_h + _LEGEND_BAND
    fig = Figure(figsize=(width, height), dpi=DPI)
    image_ax = _inch_axes(fig, _fit_box((_MARGIN, top, width - 2 * _MARGIN, image_h), aspect))
    crop_axes = [_inch_axes(fig, box) for box in boxes]
    cax = _inch_axes(fig, bar, label="<colorbar>") if bar else None
    return fig, image_ax, crop_axes, cax


@_literal_text
def copy_move_panel(
    rgb: np.ndarray,
    target_box: tuple[int, int, int, int],
    source_box: tuple[int, int, int, int] | None,
    aligned_source: np.ndarray | None,
    target_crop: np.ndarray | None,
    *,
    title: str,
    display_size: int,
) -> Figure:
    """A copy-move pair: the image with source and target boxes, and the crops compared.

    The image panel outlines the source (:data:`SOURCE_COLOR`) and target
    (:data:`TARGET_COLOR`) boxes, with an arrow from the source centre to the target
    centre. Below it: the aligned source crop, the target crop and their |difference|
    (per-pixel max over channels), each panel only when its inputs are given.

    Parameters
    ----------
    rgb : ndarray
        ``(H, W, 3)`` uint8 image.
    target_box : tuple of int
        ``(x1, y1, x2, y2)``, inclusive, in full-resolution pixels.
    source_box : tuple of int or None
        Same for the source; None when no source was found (only the target is outlined
        and the title says "source not found").
    aligned_source, target_crop : ndarray or None
        Source crop warped onto the target's grid, and the target crop; ``(h, w)`` or
        ``(h, w, 3)`` uint8 of the same shape.
    title : str
        Title of the figure.
    display_size : int
        Longest side in pixels of the image thumbnail (crops use half of it).

    Returns
    -------
    Figure
        Image axes, one axes per crop panel, and a colour bar when the difference is shown.
    """
    _check_rgb(rgb)
    h, w = rgb.shape[:2]
    panels = _crop_panels(aligned_source, target_crop)
    fig, ax, crop_axes, cax = _crop_sheet(w / h, panels, display_size)
    # the extent puts the thumbnail in full-resolution pixel coordinates, as the boxes are
    _show(ax, thumbnail(rgb, display_size), f"{w}×{h} px", extent=(-0.5, w - 0.5, h - 0.5, -0.5))
    if source_box is not None:
        _box_patch(ax, source_box, SOURCE_COLOR, "source")
    _box_patch(ax, target_box, TARGET_COLOR, "target")
    if source_box is not None:
        _draw_arrow(ax, source_box, target_box)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, 0.0), fontsize=8, ncols=2, frameon=False)
    for crop_ax, (name, crop) in zip(crop_axes, panels):
        _draw_crop(crop_ax, name, crop, max(1, display_size // 2), cax)
    _suptitle(fig, title if source_box is not None else f"{title}: source not found")
    return fig


# ----------------------------------------------------------------------------- copy-move


@_literal_text
def score_scatter(cm: pd.DataFrame, x: str = "ncc", y: str = "residual_ncc", *,
                  title: str = "Copy-move evidence per instance") -> Figure:
    """Scatter of two copy-move scores, one point per instance, coloured by verdict.

    A real copy carries its noise along: it sits high on both axes. Chance look-alikes
    on repetitive content reach a high ``ncc`` but a low ``residual_ncc``.
    """
    fig = _figure((6.4, 5.0))
    ax = fig.add_subplot()
    df = cm.dropna(subset=[x, y]) if len(cm) else cm
    if df.empty:
        _no_data(ax, "no instance with scores")
    for verdict, color in VERDICT_COLORS.items():
        part = df[df["verdict"] == verdict]
        if len(part):
            ax.scatter(part[x], part[y], s=22, color=color, edgecolor="black", linewidth=0.4,
                       alpha=0.85, label=f"{verdict} (n={len(part)})")
    ax.set(title=title, xlabel=f"{x} (aligned source vs target)",
           ylabel=f"{y} (noise residuals)", xlim=(-0.05, 1.05), ylim=(-0.05, 1.05))
    if len(df):
        ax.legend(loc="lower right", title="verdict")
    return fig


@_literal_text
def direction_rose(dx: pd.Series, dy: pd.Series, *, bins: int = 16,
                   title: str = "Direction from source to copy") -> Figure:
    """Polar histogram of the direction of each copy's offset (image axes: y points down).

    Angles follow the picture: 0 deg points right, 90 deg up on the screen.
    """
    fig = _figure((5.2, 5.2))
    ax = fig.add_subplot(projection="polar")
    ok = dx.notna() & dy.notna()
    angles = np.arctan2(-dy[ok].astype(float), dx[ok].astype(float))
    edges = np.linspace(-np.pi, np.pi, bins + 1)
    counts, _ = np.histogram(angles, edges)
    ax.bar(edges[:-1], counts, width=np.diff(edges), align="edge", color=TARGET_COLOR,
           edgecolor="black", linewidth=0.5, alpha=0.8)
    ax.set_title(f"{title} (n={int(ok.sum())})")
    ax.set_yticks([])
    return fig


@_literal_text
def share_bars(tables: Mapping[str, pd.DataFrame], *, share: str, count: str, hit: str,
               title: str) -> Figure:
    """One bar panel per table: the ``share`` column per category (the first column),
    each bar labelled ``hit/count``; e.g. the share of labelled copies a blind screen
    found, by transform, scale, area and image size.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        Panel title -> table whose first column holds the categories; may be empty.
    share, count, hit : str
        Columns of the share (0..1), the number of things and the number found.
    title : str
        Title of the figure.
    """
    n = max(1, len(tables))
    fig = _figure((min(_MAX_WIDTH, 4.2 * n), 4.2))
    axes = np.atleast_1d(fig.subplots(1, n, sharey=True))
    for ax, (name, df) in zip(axes, tables.items()):
        if df.empty:
            _no_data(ax, "nothing to count")
        labels = [str(v) for v in df.iloc[:, 0]]
        bars = ax.bar(np.arange(len(df)), df[share].astype(float), color="#4C6E91")
        ax.bar_label(bars, [f"{int(h)}/{int(c)}" for h, c in zip(df[hit], df[count])],
                     padding=2, fontsize=8)
        ax.set_xticks(np.arange(len(df)), labels, rotation=45, ha="right")
        ax.set(title=name, ylim=(0, 1.1))
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel(share)
    fig.suptitle(title)
    return fig
