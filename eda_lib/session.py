"""What every notebook does first: read its parameters, load the tables, set the style.

A notebook starts with ``s = eda_lib.start(globals(), "03")``: its ``parameters``
cell becomes a validated :class:`~eda_lib.config.Config`, the tables are loaded
(computed first if they are missing or stale), and figures shown through
:meth:`Session.show` land in ``out_dir/figures`` with the section's prefix.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib as mpl
from IPython.display import Image, display

from . import config, plots
from .tables import Tables, load_tables

STYLE = {
    "figure.dpi": 100,
    "savefig.dpi": 110,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titleweight": "bold",
    "font.size": 10,
}


@dataclass
class Session:
    """The state a notebook works with."""

    cfg: config.Config
    tables: Tables
    section: str

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
        display(Image(filename=str(path)))


def start(namespace: Mapping[str, Any], section: str) -> Session:
    """Validate the notebook's parameters and load the tables."""
    cfg = config.from_namespace(namespace)
    mpl.rcParams.update(STYLE)
    return Session(cfg=cfg, tables=load_tables(cfg), section=section)
