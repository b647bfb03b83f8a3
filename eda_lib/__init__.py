"""Exploratory data analysis of copy-move forgery datasets of scientific images.

The package holds all the logic of the notebook suite: indexing a dataset
(:mod:`~eda_lib.index`), safe loading of images and masks (:mod:`~eda_lib.images`,
:mod:`~eda_lib.masks`), the one data pass (:mod:`~eda_lib.measure`) and its tables
(:mod:`~eda_lib.tables`), instance metrics, copy-move forensics, plots, the analyst
summary, the demo data generator and the runner.
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
