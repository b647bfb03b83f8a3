"""Exploratory data analysis of copy-move forgery datasets of scientific images.

The package holds all the logic of the notebook suite: indexing a dataset
(:mod:`~eda_lib.index`), safe loading of images and masks (:mod:`~eda_lib.images`,
:mod:`~eda_lib.masks`), the one data pass (:mod:`~eda_lib.measure`) and its tables
(:mod:`~eda_lib.tables`), instance metrics, copy-move forensics, plots, the analyst
summary, the demo data generator and the runner.
"""

from .config import Config, load_config, make_config
from .errors import ConfigError, DataError, EdaError
from .session import Session, start
from .tables import Tables, ensure_tables, load_tables

__version__ = "0.1.0"

__all__ = [
    "Config", "ConfigError", "DataError", "EdaError", "Session", "Tables",
    "ensure_tables", "load_config", "load_tables", "make_config", "start",
]
