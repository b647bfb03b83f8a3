"""The sets of figures a section shows, each decided here rather than in the notebook.

Every function returns an ordered mapping ``name -> Figure`` (empty when there is
nothing to draw), which :meth:`eda_lib.report.session.Session.show_all` saves as
``figures/<section>_<name>.png`` and displays in order; :func:`copy_move_evidence`
returns such mappings under a caption each, for
:meth:`~eda_lib.report.session.Session.show_groups`. The tables say what to draw
(:mod:`eda_lib.analysis.stats`), :mod:`~eda_lib.report.gallery` loads the pixels and
:mod:`~eda_lib.report.plots` draws them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..analysis import stats
from ..config import Config
from . import gallery, plots
from .gallery import Example

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
    return {"example": plots.example_panel(first.rgb, first.masks, title=f"case {first.case_id}",
                                           display_size=display_size)}


def example_grid(examples: Sequence[Example], tile: int) -> dict[str, Figure]:
    """Every example in a grid with its instances drawn.

    Returns
    -------
    dict
        ``{"grid": Figure}``, or empty when there is no example.
    """
    if not examples:
        return {}
    return {"grid": plots.overlay_grid(_items(examples), tile=tile, cols=GRID_COLUMNS,
                                       suptitle="Forged images with their instances")}


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
    authentic = gallery.load_captioned(cfg, gallery.sample(stats.readable_authentic(t.images), k,
                                                           cfg.seed))
    if not authentic:
        return {}
    return {"authentic_vs_forged": plots.auth_vs_forged(authentic, _items(examples[:k]),
                                                        tile=cfg.grid_size)}


def twins(examples: Sequence[Example], display_size: int) -> dict[str, Figure]:
    """Authentic | forged | difference for the first :data:`TWINS` examples with a twin.

    Returns
    -------
    dict
        ``{"twin_<case_id>": Figure}`` in the examples' order; empty when no example
        has a twin.
    """
    with_twin = [e for e in examples if e.twin_rgb is not None][:TWINS]
    return {f"twin_{e.case_id}": plots.twin_panel(e.twin_rgb, e.rgb, e.masks, title=f"case {e.case_id}",
                                                  display_size=display_size)
            for e in with_twin}


# ------------------------------------------------------------------ copy-move


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
        ``"<group>: <n> instance(s)"`` -> ``{"<first word of group>_<i>": Figure}``, in
        the showcase's order (an empty group keeps its caption and has no figure).
    """
    out = {}
    for group, rows in showcase.items():
        prefix = group.split()[0]
        out[f"{group}: {len(rows)} instance(s)"] = {
            f"{prefix}_{i}": plots.copy_move_panel(**gallery.copy_move_view(cfg, t, row),
                                                   display_size=cfg.display_size)
            for i, row in enumerate(rows.to_dict("records"))
        }
    return out


# ------------------------------------------------------------------ blind screen


SCREEN_EXAMPLES = 2
"""Most examples drawn of each false-positive control."""


def screening_pairs(cfg: Config, t, rows: pd.DataFrame, prefix: str,
                    limit: int | None = None) -> dict[str, Figure]:
    """The copy-move panel of each ``screening`` row (image with both ends outlined,
    aligned end, other end, difference), at most ``limit`` (default
    ``cfg.max_grid_images``).

    Returns
    -------
    dict
        ``{"<prefix>_<split>_<label>_<case_id>_<pair>": Figure}`` in the rows' order;
        empty without rows.
    """
    chosen = rows.head(cfg.max_grid_images if limit is None else limit)
    out = {}
    for row in chosen.to_dict("records"):
        name = "_".join(str(v) for v in (prefix, row["split"], row["label"] or "x",
                                          row["case_id"], row["pair"]))
        out[name] = plots.copy_move_panel(**gallery.screening_view(cfg, t, row),
                                          display_size=cfg.display_size)
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
        ``"<reason>: <n> pair(s)"`` -> :func:`screening_pairs` of up to
        :data:`SCREEN_EXAMPLES` pairs, most frequent reason first.
    """
    held = t.screening[t.screening["verdict"] != "copy"]
    out = {}
    for reason, n in held["reason"].value_counts().items():
        rows = held[held["reason"] == reason].sort_values("ncc", ascending=False, kind="stable")
        out[f"{reason}: {n} pair(s)"] = screening_pairs(cfg, t, rows, f"control_{reason}",
                                                        SCREEN_EXAMPLES)
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
        out[f"worst_{issue}"] = plots.overlay_grid(items, tile=cfg.grid_size, cols=GRID_COLUMNS,
                                                   suptitle=f"{_spaced(issue)}: lowest scores")
    return out
