"""What a run of the notebook suite produced: one record per notebook, and the run.

The runner (:mod:`eda_lib.report.runner`) makes these, the pages
(:mod:`eda_lib.report.pages`) show them; both import them from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

#: File name of the index page, at the top of the output folder.
INDEX_NAME = "index.html"

#: Environment variable the runner sets in the kernels it starts: a notebook run by the
#: runner reads the tables the runner's data pass stored and never measures.
RUNNER_ENV = "EDA_LIB_RUNNER"

#: Key of the output metadata naming the file in ``figures/`` of a figure a notebook
#: showed (:meth:`eda_lib.report.session.Session.show`): the runner reads it to remove a
#: section's figures that a new execution no longer shows, and to write again, from the
#: saved notebook, a figure file that went missing.
FIGURE_KEY = "eda_lib_figure"


@dataclass(frozen=True)
class NotebookRecord:
    """What happened to one notebook of a run.

    Attributes
    ----------
    name : str
        File stem, e.g. ``"01_index"``.
    title : str
        First markdown heading of the notebook (its name when it has none).
    status : str
        ``"ok"`` or ``"failed"``.
    seconds : float
        Wall time of execution and rendering.
    error : str or None
        ``"ErrorName: value"`` of the exception that stopped a failed notebook.
    notebook : Path
        The executed ``.ipynb``.
    html : Path
        The rendered page.
    reused : bool
        True when the outputs of an earlier run were kept because none of the
        notebook's inputs changed (see :func:`inputs_key`).
    """

    name: str
    title: str
    status: str
    seconds: float
    error: str | None
    notebook: Path
    html: Path
    reused: bool = False


@dataclass(frozen=True)
class RunResult:
    """The outcome of :func:`run`: one record per notebook, in order, and what the data
    pass did (``"data pass: local, 2 processes"``, from
    :func:`eda_lib.datapass.pass_summary`; empty when not known)."""

    out_dir: Path
    records: tuple[NotebookRecord, ...]
    data_pass: str = ""

    @property
    def ok(self) -> bool:
        """True when every notebook ran to the end."""
        return all(r.status == "ok" for r in self.records)

    @property
    def index_html(self) -> Path:
        """The index page of the run."""
        return self.out_dir / INDEX_NAME
