"""Exploratory data analysis of copy-move forgery datasets of scientific images.

The package holds all the logic of the notebook suite, in stages that follow the data:

- a foundation every stage uses: :mod:`~eda_lib.config` (parameters),
  :mod:`~eda_lib.errors`, :mod:`~eda_lib.files` (atomic writes),
  :mod:`~eda_lib.geometry` (boxes, flips and rotations), :mod:`~eda_lib.tables` (the
  schema and storage of every table) and :mod:`~eda_lib.trace`;
- :mod:`eda_lib.dataset`: reading a dataset safely (layout, images, masks, the
  competition's annotation format and metric, the demo generator);
- :mod:`eda_lib.measure`: the per-case measurements (image health, instances, copy-move);
- :mod:`eda_lib.analysis`: dataset-level tables and summaries (health flags, leakage
  groups, folds, findings, scoring);
- :mod:`eda_lib.datapass`: the one data pass, from a data folder to the stored tables;
- :mod:`eda_lib.report`: figures, notebooks run headless, their pages, and the run diff;
- :mod:`eda_lib.cli`: the command line.

A module imports only from its own stage or a lower one (``tests/test_layout.py``).
"""

from .config import Config, load_config, make_config
from .errors import ConfigError, DataError, EdaError

__version__ = "0.1.0"

# Imported on first use: worker processes of the data pass import this package and
# should not pay for matplotlib (session) or the table machinery they do not need.
_LAZY = {"Session": "report.session", "start": "report.session", "Tables": "tables",
         "ensure_tables": "datapass", "load_tables": "datapass"}


def __getattr__(name: str):
    if name in _LAZY:
        from importlib import import_module

        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "Config", "ConfigError", "DataError", "EdaError", "Session", "Tables",
    "ensure_tables", "load_config", "load_tables", "make_config", "start",
]
