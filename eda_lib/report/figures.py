"""The sets of figures a section shows, each decided here rather than in the notebook.

Every function returns an ordered mapping ``name -> Figure`` (empty when there is
nothing to draw), which :meth:`eda_lib.report.session.Session.show_all` saves as
``figures/<section>_<name>.png`` and displays in order; :func:`copy_move_evidence`
returns such mappings under a caption each, for
:meth:`~eda_lib.report.session.Session.show_groups`. The tables say what to draw
(:mod:`eda_lib.analysis.stats`), :mod:`~eda_lib.report.gallery` loads the pixels and
:mod:`~eda_lib.report.plots` draws them.

Images are drawn from the display views the data pass stored (see
:mod:`~eda_lib.report.gallery`): at most :data:`~eda_lib.measure.case.VIEW_SIDE` pixels
on the longest side, the size a figure shows. The drawing functions quote the size of the
array they are given, so every figure drawn from a smaller view is then made to say the
file's own size, boxes and crop sizes (:func:`_say_file_size`, :func:`_pair_panel`); the
share of an image a mask marks comes from the pass. Differences (twins, crops) are those
of the views. For an image no larger than the view, nothing changes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axis import Axis
from matplotlib.figure import Figure
from matplotlib.text import Text

from ..analysis import stats
from ..config import Config
from . import gallery, plots
from .gallery import Example, PairView, Shown

SCORE_ISSUES = ("dark", "light", "blurry", "low_information")
"""Health issues whose score is drawn as a distribution, in the order shown: the
image-property scores of :data:`~eda_lib.measure.health.ISSUES` that spread over
[0, 1] (the other scores are ratios, set sizes or yes/no)."""

SIDE_BY_SIDE = 6
"""Most images in each row of the authentic-and-forged figure."""

TWINS = 3
"""Most twin figures (authentic | forged | difference) shown."""

WORST = 4
"""Most images in each grid of the worst examples of a health issue."""

GRID_COLUMNS = 4
"""Cells per row of the image grids."""


def _items(examples: Sequence[Example]) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Items of :func:`~eda_lib.report.plots.overlay_grid`: caption, pixels and masks."""
    return [(e.caption, e.rgb, e.masks) for e in examples]


def _spaced(issue: str) -> str:
    return issue.replace("_", " ")


def _px(shape: Sequence[int]) -> str:
    """An (h, w) size as the figures write it: ``"<w>×<h> px"``."""
    return f"{int(shape[1])}×{int(shape[0])} px"


def _retext(fig: Figure, old: str, new: str, prefix: str = "", exact: bool = False) -> None:
    """Replace ``old`` by ``new`` in every text of ``fig`` that starts with ``prefix`` (or,
    with ``exact``, that is ``old``)."""
    if old == new:
        return
    for text in _texts(fig):
        value = text.get_text()
        if (value == old) if exact else (old in value and value.startswith(prefix)):
            text.set_text(value.replace(old, new))


def _texts(artist: Artist) -> Iterator[Text]:
    """Every text an artist holds, as ``findobj(Text)`` finds them, but none of the axis
    of an axes that is off (an image's): it draws no text, and listing its children
    would make all its ticks, most of the cost of a figure of images."""
    for child in artist.get_children():
        if isinstance(child, Axis) and not child.axes.axison:
            continue
        if isinstance(child, Text):
            yield child
        yield from _texts(child)


def _say_file_size(fig: Figure, shape: Sequence[int], size: Sequence[int] | None,
                   prefix: str = "") -> Figure:
    """Make the texts starting with ``prefix`` that quote a view's size (h, w) ``shape``
    quote the file's ``size`` (H, W) instead; nothing when ``size`` is None."""
    if size is not None:
        _retext(fig, _px(shape), _px(size), prefix)
    return fig


def _say_file_sizes(fig: Figure, shown: Sequence[tuple[str, Shown]]) -> Figure:
    """:func:`_say_file_size` for every (caption, image) of a grid: its tile's caption."""
    for caption, image in shown:
        _say_file_size(fig, image.rgb.shape[:2], image.size, f"{caption}\n")
    return fig


# ------------------------------------------------------------------ forged examples


def example(examples: Sequence[Example], display_size: int) -> dict[str, Figure]:
    """The first example in three panels: original, union of its instances, overlay.

    Parameters
    ----------
    examples : sequence of Example
        Loaded examples (:func:`eda_lib.report.gallery.load_examples`).
    display_size : int
        Longest side in pixels of single-image figures.

    Returns
    -------
    dict
        ``{"example": Figure}``, or empty when there is no example.
    """
    if not examples:
        return {}
    first = examples[0]
    fig = plots.example_panel(first.rgb, first.masks, title=f"case {first.case_id}",
                              display_size=display_size)
    _say_file_size(fig, first.rgb.shape[:2], first.size)
    if first.union_frac is not None:  # the pass measured it on the mask itself
        _retext(fig, f"union mask: {(first.masks != 0).any(axis=0).mean():.1%} of the image",
                f"union mask: {first.union_frac:.1%} of the image")
    return {"example": fig}


def example_grid(examples: Sequence[Example], tile: int) -> dict[str, Figure]:
    """Every example in a grid with its instances drawn.

    Returns
    -------
    dict
        ``{"grid": Figure}``, or empty when there is no example.
    """
    if not examples:
        return {}
    fig = plots.overlay_grid(_items(examples), tile=tile, cols=GRID_COLUMNS,
                             suptitle="Forged images with their instances")
    return {"grid": _say_examples_size(fig, examples)}


def _say_examples_size(fig: Figure, examples: Sequence[Example]) -> Figure:
    """:func:`_say_file_size` for the tile of every example."""
    for e in examples:
        _say_file_size(fig, e.rgb.shape[:2], e.size, f"{e.caption}\n")
    return fig


def authentic_vs_forged(cfg: Config, t, examples: Sequence[Example]) -> dict[str, Figure]:
    """Authentic images above forged examples, up to :data:`SIDE_BY_SIDE` of each.

    The authentic images are a sample (with ``cfg.seed``) of those that decoded.

    Parameters
    ----------
    cfg : Config
        The run's configuration (seed, grid sizes, data folder).
    t : Tables
        The run's tables.
    examples : sequence of Example
        The forged examples; the first ones are shown.

    Returns
    -------
    dict
        ``{"authentic_vs_forged": Figure}``, or empty without an authentic image or
        without an example.
    """
    if not examples:
        return {}
    k = min(SIDE_BY_SIDE, cfg.max_grid_images)
    authentic = gallery.load_captioned(cfg, t, gallery.sample(stats.readable_authentic(t.images),
                                                              k, cfg.seed))
    if not authentic:
        return {}
    fig = plots.auth_vs_forged([(c, image.rgb) for c, image in authentic],
                               _items(examples[:k]), tile=cfg.grid_size)
    _say_file_sizes(fig, authentic)
    return {"authentic_vs_forged": _say_examples_size(fig, examples[:k])}


def twins(examples: Sequence[Example], display_size: int) -> dict[str, Figure]:
    """Authentic | forged | difference for the first :data:`TWINS` examples with a twin.

    The difference is that of the two display views (exact where the images are no
    larger than a view; a changed block of the files shows as changed view pixels).

    Returns
    -------
    dict
        ``{"twin_<split>_<case_id>": Figure}`` in the examples' order (a case_id can
        name a case in each split); empty when no example has a twin.
    """
    with_twin = [e for e in examples if e.twin_rgb is not None][:TWINS]
    return {f"twin_{e.split}_{e.case_id}": _say_file_size(
                plots.twin_panel(e.twin_rgb, e.rgb, e.masks, title=f"case {e.case_id}",
                                 display_size=display_size), e.rgb.shape[:2], e.size)
            for e in with_twin}


# ------------------------------------------------------------------ copy-move


def _box_text(name: str, box: Sequence[int]) -> str:
    """The legend text :func:`eda_lib.report.plots.copy_move_panel` gives a box."""
    x1, y1, x2, y2 = box
    return f"{name}: x {x1}–{x2}, y {y1}–{y2}"


def _pair_panel(view: PairView, display_size: int) -> Figure:
    """:func:`eda_lib.report.plots.copy_move_panel` of a :class:`~eda_lib.report.gallery.PairView`,
    its texts (image size, boxes, crop sizes) in the file's pixels."""
    panel = view.panel
    fig = plots.copy_move_panel(**panel, display_size=display_size)
    shape = panel["rgb"].shape[:2]
    if tuple(shape) == tuple(view.size):
        return fig
    _retext(fig, _px(shape), _px(view.size), exact=True)
    for name, small, box in (("source", panel["source_box"], view.source_box),
                             ("target", panel["target_box"], view.target_box)):
        if small is not None and box is not None:
            _retext(fig, _box_text(name, small), _box_text(name, box), exact=True)
    if panel["target_crop"] is not None:
        x1, y1, x2, y2 = view.target_box
        crop = f"({_px(panel['target_crop'].shape[:2])})"
        for name in ("aligned source", "target"):
            _retext(fig, crop, f"({_px((y2 - y1 + 1, x2 - x1 + 1))})", prefix=f"{name} (")
    return fig


def copy_move_evidence(cfg: Config, t, showcase: Mapping[str, pd.DataFrame]
                       ) -> dict[str, dict[str, Figure]]:
    """The evidence panel of every showcased instance, under a caption per group.

    Parameters
    ----------
    cfg : Config
        The run's configuration.
    t : Tables
        The run's tables.
    showcase : mapping of str to pandas.DataFrame
        Group name -> rows of the ``copy_move`` table
        (:func:`eda_lib.report.gallery.copy_move_showcase`).

    Returns
    -------
    dict
        ``"<group>: <n> instances"`` -> ``{"<first word of group>_<i>": Figure}``, in
        the showcase's order (an empty group keeps its caption and has no figure).
    """
    out = {}
    for group, rows in showcase.items():
        prefix = group.split()[0]
        out[f"{group}: {stats.counted(len(rows), 'instance', 'instances')}"] = {
            f"{prefix}_{i}": _pair_panel(gallery.copy_move_view(cfg, t, row), cfg.display_size)
            for i, row in enumerate(rows.to_dict("records"))
        }
    return out


# ------------------------------------------------------------------ blind screen


SCREEN_EXAMPLES = 1
"""Most examples drawn of each false-positive control (their number is bounded by the
screen's reasons, so the section draws at most 3 groups x :func:`screening_cap` plus one
panel per reason, whatever the size of the data)."""


def screening_cap(cfg: Config) -> int:
    """Most pairs section 10 draws of each group of flagged images: a quarter of
    ``cfg.max_grid_images`` (3 by default), at least 1; the strongest are drawn."""
    return max(1, cfg.max_grid_images // 4)


def screening_pairs(cfg: Config, t, rows: pd.DataFrame, prefix: str,
                    limit: int | None = None) -> dict[str, Figure]:
    """The copy-move panel of each ``screening`` row (image with both ends outlined,
    aligned end, other end, difference), for the first ``limit`` rows (default
    :func:`screening_cap`).

    Returns
    -------
    dict
        ``{"<prefix>_<split>_<label>_<case_id>_<pair>": Figure}`` in the rows' order;
        empty without rows.
    """
    chosen = rows.head(screening_cap(cfg) if limit is None else limit)
    out = {}
    for row in chosen.to_dict("records"):
        name = "_".join(str(v) for v in (prefix, row["split"], row["label"] or "x",
                                          row["case_id"], row["pair"]))
        out[name] = _pair_panel(gallery.screening_view(cfg, t, row), cfg.display_size)
    return out


def screening_recovery(t) -> dict[str, Figure]:
    """The share of the labelled copy-move pairs the blind screen found, by transform,
    scale, area and image size (:func:`eda_lib.analysis.stats.screen_recovery`).

    Returns
    -------
    dict
        ``{"recovery": Figure}``, or empty when no labelled pair was compared.
    """
    if t.copy_move["screen_found"].notna().sum() == 0:
        return {}
    tables = {by: stats.screen_recovery(t.copy_move, t.images, by)
              for by in ("transform", "scale", "area", "image size")}
    return {"recovery": plots.share_bars(tables, share="found share", count="pairs",
                                         hit="found", title="Labelled copies the blind "
                                                            "screen found")}


def screening_controls(cfg: Config, t) -> dict[str, dict[str, Figure]]:
    """For each reason that kept a pair from ``copy``, its strongest examples.

    Returns
    -------
    dict
        ``"<reason>: <n> pairs, <k> drawn"`` -> :func:`screening_pairs` of the ``k``
        strongest (by ``ncc``; at most :data:`SCREEN_EXAMPLES` and
        :func:`screening_cap`), most frequent reason first.
    """
    held = t.screening[t.screening["verdict"] != "copy"]
    k = min(SCREEN_EXAMPLES, screening_cap(cfg))
    out = {}
    for reason, n in held["reason"].value_counts().items():
        rows = held[held["reason"] == reason].sort_values("ncc", ascending=False, kind="stable")
        out[f"{reason}: {stats.counted(n, 'pair', 'pairs')}, {min(n, k)} drawn"] = screening_pairs(
            cfg, t, rows, f"control_{reason}", k)
    return out


# ------------------------------------------------------------------ health


def health_scores(health: pd.DataFrame) -> dict[str, Figure]:
    """The distribution of each score of :data:`SCORE_ISSUES`, by label (test images left
    out; a flat folder's images, which have no label, as ``"(unlabelled)"``: see
    :func:`eda_lib.analysis.stats.described_images`).

    Returns
    -------
    dict
        ``{"<issue>_score": Figure}`` in the order of :data:`SCORE_ISSUES`.
    """
    labelled = stats.described_images(health)
    out = {}
    for issue in SCORE_ISSUES:
        out[f"{issue}_score"] = plots.hist_by_label(labelled, f"{issue}_score", bins=30,
                                                    title=f"{_spaced(issue)} score (low = issue)",
                                                    xlabel=f"{issue}_score")
    return out


def health_worst(cfg: Config, t) -> dict[str, Figure]:
    """For each issue flagged at least once, the flagged images with the lowest scores.

    Up to :data:`WORST` images (and at most ``cfg.max_grid_images``) per issue.

    Parameters
    ----------
    cfg : Config
        The run's configuration.
    t : Tables
        The run's tables (``health`` and ``images``).

    Returns
    -------
    dict
        ``{"worst_<issue>": Figure}`` in the order of
        :data:`~eda_lib.measure.health.ISSUES`; empty when nothing is flagged.
    """
    n = min(WORST, cfg.max_grid_images)
    out = {}
    for issue in stats.issues_found(t.health):
        items = gallery.load_scored(cfg, t, stats.worst(t.health, issue, n), issue)
        fig = plots.overlay_grid([(c, image.rgb, m) for c, image, m in items], tile=cfg.grid_size,
                                 cols=GRID_COLUMNS, suptitle=f"{_spaced(issue)}: lowest scores")
        out[f"worst_{issue}"] = _say_file_sizes(fig, [(c, image) for c, image, _ in items])
    return out
