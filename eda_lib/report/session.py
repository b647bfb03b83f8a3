"""What every notebook does first: read its parameters, load the tables, set the style.

A notebook starts with ``s = eda_lib.start(globals(), "03")``: its ``parameters``
cell becomes a validated :class:`~eda_lib.config.Config`, the tables are loaded, and
figures shown through :meth:`Session.show` (or, for the sets of
:mod:`~eda_lib.report.figures`, :meth:`Session.show_all` and
:meth:`Session.show_groups`) land in ``out_dir/figures`` with the section's prefix.
A notebook opened by hand builds the tables when they are missing or were made with
other parameters; a notebook run by the runner (whose kernels carry
:data:`~eda_lib.report.records.RUNNER_ENV`) only reads what the runner's data pass
stored, so parallel kernels never measure.

A section that needs what the dataset lacks (masks, labels, twins: see
:data:`eda_lib.analysis.summary.SECTION_NEEDS`), say section 3 on a flat folder of images,
says so at its top: :func:`start` prints :func:`not_applicable`. Run by the runner, its
later cells are then not run (:func:`skip_later_cells`), so its page shows the statement
instead of empty tables; opened by hand, they run on the empty tables. A section whose
last parts need more than the rest, say section 10's judging of the screen against the
labels, calls :meth:`Session.rest_needs` before them: the same, for those parts only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib as mpl
import pandas as pd
from IPython import get_ipython
from IPython.display import Image, display
from matplotlib.figure import Figure

from .. import config
from ..analysis.summary import NOT_APPLICABLE, REST_NOT_APPLICABLE, need_gap, section_gap
from ..datapass import load_tables
from ..tables import Tables
from . import plots
from .records import FIGURE_KEY, RUNNER_ENV

#: rcParams a notebook's figures are drawn with. Figures are sized and saved at one
#: resolution, :data:`~eda_lib.report.plots.DPI` (the suite's figures set it themselves;
#: these cover a figure a notebook makes by hand), so what is saved is what is shown.
STYLE = {
    "figure.dpi": plots.DPI,
    "savefig.dpi": plots.DPI,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titleweight": "bold",
    "font.size": 10,
}

#: pandas options a notebook's tables are shown with: a cell's text is shown whole (pandas
#: cuts it at 50 characters by default), so a problem's detail keeps the fix it names.
TABLE_OPTIONS = {
    "display.max_colwidth": None,
}


PICKLE_WARNING = ("WARNING: allow_pickle is on: object-array masks were unpickled, which runs code "
                  "stored in the data folder.")
"""Printed by :meth:`Session.print_warnings` when the run allowed unpickling masks."""


def run_warnings(cfg: config.Config) -> list[str]:
    """What a reader must be warned about in the run's parameters (empty when nothing).

    Parameters
    ----------
    cfg : Config
        The run's configuration.

    Returns
    -------
    list of str
        :data:`PICKLE_WARNING` when ``cfg.allow_pickle`` is on.
    """
    return [PICKLE_WARNING] if cfg.allow_pickle else []


@dataclass
class Session:
    """The state a notebook works with."""

    cfg: config.Config
    tables: Tables
    section: str
    #: Whether the notebook runs under the runner, which skips the cells of what does not
    #: apply (see :func:`skip_later_cells`); opened by hand, they run on empty tables.
    by_runner: bool = False

    @property
    def figures_dir(self) -> Path:
        return self.cfg.out_dir / "figures"

    def show(self, fig, name: str) -> None:
        """Save ``fig`` as ``figures/<section>_<name>.png`` and display that file.

        What the notebook (and so its HTML) shows is the saved PNG itself, so the
        report and the ``figures/`` folder hold the same pixels.
        """
        self.figures_dir.mkdir(parents=True, exist_ok=True)
        path = plots.save_figure(fig, self.figures_dir, f"{self.section}_{name}")
        # the output names its file, so the runner knows the figures a notebook wrote
        display(Image(filename=str(path), alt=describe(fig, name)),
                metadata={FIGURE_KEY: {"file": path.name}})

    def show_all(self, figures: Mapping[str, Figure], empty: str = "") -> None:
        """:meth:`show` every figure of ``figures`` (name -> Figure), in order.

        Parameters
        ----------
        figures : mapping of str to Figure
            The figures and their names, e.g. from :mod:`eda_lib.report.figures`;
            may be empty.
        empty : str
            Printed when ``figures`` is empty; by default nothing is.
        """
        for name, fig in figures.items():
            self.show(fig, name)
        if not figures and empty:
            print(empty)

    def table(self, df: pd.DataFrame, empty: str) -> None:
        """Display ``df``, or print ``empty`` when it has no row: a header alone says
        nothing to the reader."""
        if len(df):
            display(df)
        else:
            print(empty)

    def show_groups(self, groups: Mapping[str, Mapping[str, Figure]]) -> None:
        """For each group in order: print its caption, then :meth:`show_all` its figures.

        Parameters
        ----------
        groups : mapping of str to mapping of str to Figure
            Caption -> figures (name -> Figure); names must be unique across groups.
        """
        for caption, figures in groups.items():
            print(caption)
            self.show_all(figures)

    def print_warnings(self) -> None:
        """Print each of :func:`run_warnings` on a line of its own (nothing when all is safe)."""
        for text in run_warnings(self.cfg):
            print(text)

    def rest_needs(self, need: str) -> None:
        """Say once that the rest of the section does not apply when the data lacks ``need``.

        Prints :func:`rest_not_applicable`; run by the runner, the later cells are then not
        run (:func:`skip_later_cells`) and the page ends at the statement
        (:func:`eda_lib.report.pages.applicable_part`). Does nothing when the data holds
        ``need``.

        Parameters
        ----------
        need : str
            A key of :data:`eda_lib.analysis.summary.NEEDS`, e.g. ``"screen_labels"``.
        """
        statement = rest_not_applicable(self.tables, need, skipped=self.by_runner)
        if statement:
            print(statement)
            if self.by_runner:
                skip_later_cells()


def describe(fig: Figure, name: str) -> str:
    """The text alternative of a figure: its title and its panels' titles, else its name.

    Examples
    --------
    >>> fig = Figure()
    >>> _ = fig.suptitle("Areas"); _ = fig.subplots().set_title("forged")
    >>> describe(fig, "area")
    'Areas: forged'
    >>> describe(Figure(), "copy_move_least_1")
    'copy move least 1'
    """
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    head = fig.get_suptitle()
    text = ": ".join(part for part in (head, ", ".join(titles)) if part)
    return text or name.replace("_", " ")


def not_applicable(tables: Tables, section: str, skipped: bool = True) -> str:
    """The statement a section prints at its top when it does not apply to the data.

    Parameters
    ----------
    tables : Tables
        The run's tables.
    section : str
        The section's number, e.g. ``"03"``.
    skipped : bool
        Whether the section's later cells are skipped (run by the runner) or run on empty
        tables (opened by hand); the statement says which.

    Returns
    -------
    str
        ``"This section does not apply to this dataset: it needs ..., and ..."`` (see
        :func:`eda_lib.analysis.summary.section_gap`), or "" when the section applies.
    """
    return _statement(NOT_APPLICABLE, section_gap(tables, section), skipped,
                      "The rest of this section is not run.")


def rest_not_applicable(tables: Tables, need: str, skipped: bool = True) -> str:
    """The statement printed where the rest of a section needs what the data lacks.

    Parameters
    ----------
    tables : Tables
        The run's tables.
    need : str
        What the rest of the section needs, a key of
        :data:`eda_lib.analysis.summary.NEEDS`.
    skipped : bool
        Whether the later cells are skipped (run by the runner) or run on empty tables
        (opened by hand); the statement says which.

    Returns
    -------
    str
        ``"The rest of this section does not apply to this dataset: it needs ..., and ..."``
        (see :func:`eda_lib.analysis.summary.need_gap`), or "" when the data holds ``need``.
    """
    return _statement(REST_NOT_APPLICABLE, need_gap(tables, need), skipped, "It is not run.")


def _statement(lead: str, gap: str, skipped: bool, not_run: str) -> str:
    """``"<lead>: <gap>. <what happens to the cells below>"``, or "" without a gap."""
    if not gap:
        return ""
    rest = not_run if skipped else "The cells below run on empty tables."
    return f"{lead}: {gap}. {rest}"


def _blank(lines: list[str]) -> list[str]:
    """An IPython input transformer that turns any cell into an empty one."""
    return []


def skip_later_cells() -> bool:
    """Make the IPython kernel this runs in run every later cell as an empty one.

    For a notebook run once from top to bottom by the runner: the cells after the one
    calling this show nothing. Returns False (and does nothing) outside IPython.
    """
    shell = get_ipython()
    if shell is None:
        return False
    if _blank not in shell.input_transformers_post:
        shell.input_transformers_post.append(_blank)
    return True


def start(namespace: Mapping[str, Any], section: str) -> Session:
    """Validate the notebook's parameters, set the style of figures and tables
    (:data:`STYLE`, :data:`TABLE_OPTIONS`) and load the tables (built first when the
    notebook was opened by hand and they are missing).

    When the section does not apply to the data it prints :func:`not_applicable`; run
    by the runner, its later cells are then skipped (:func:`skip_later_cells`).
    """
    cfg = config.from_namespace(namespace)
    mpl.rcParams.update(STYLE)
    for option, value in TABLE_OPTIONS.items():
        pd.set_option(option, value)
    by_hand = not os.environ.get(RUNNER_ENV)
    tables = load_tables(cfg, build=by_hand)
    statement = not_applicable(tables, section, skipped=not by_hand)
    if statement:
        print(statement)
        if not by_hand:
            skip_later_cells()
    return Session(cfg=cfg, tables=tables, section=section, by_runner=not by_hand)
