"""Dataset-level tables, computed from the measured ones after every data pass.

They depend on all images at once (groups of twins and duplicates, folds), so
they are not cached per file; they are cheap to recompute.
"""

from __future__ import annotations

import pandas as pd

from .config import Config
from .folds import grouped_folds, leakage_groups
from .tables import frame


def derive(tables: dict[str, pd.DataFrame], cfg: Config) -> dict[str, pd.DataFrame]:
    """The derived tables: ``groups`` and ``folds``."""
    groups = leakage_groups(tables["images"])
    folds = grouped_folds(tables["images"], tables["masks"], groups, k=cfg.folds, seed=cfg.seed)
    return {
        "groups": frame("groups", groups.to_dict("records")),
        "folds": frame("folds", folds.to_dict("records")),
    }
