"""Dataset-level tables, computed from the measured ones after every data pass.

They depend on all images at once (groups of twins and duplicates, folds), so
they are not cached per file; they are cheap to recompute.
"""

from __future__ import annotations

import pandas as pd

from ..config import Config
from ..measure import health
from ..tables import SCHEMAS, frame
from .folds import grouped_folds, leakage_groups


def derive(tables: dict[str, pd.DataFrame], cfg: Config) -> dict[str, pd.DataFrame]:
    """The derived tables: ``health``, ``groups`` and ``folds``."""
    scores = tables["image_scores"]
    flagged = health.flag_issues(scores) if len(scores) else scores
    keep = [c.name for c in SCHEMAS["health"]]
    groups = leakage_groups(tables["images"], duplicates(scores))
    folds = grouped_folds(tables["images"], tables["masks"], groups, k=cfg.folds, seed=cfg.seed)
    return {
        "health": frame("health", flagged.reindex(columns=keep)),
        "groups": frame("groups", groups),
        "folds": frame("folds", folds),
    }


def duplicates(scores: pd.DataFrame) -> pd.DataFrame:
    """Exact and near duplicate sets as rows ``split, label, case_id, kind, dup_group``:
    the sets of :func:`eda_lib.measure.health.duplicate_groups` (exact sets first, each
    kind in order of first member, members in table order) keyed by case."""
    columns = ["split", "label", "case_id", "kind", "dup_group"]
    if scores.empty:
        return pd.DataFrame(columns=columns)
    scores = scores.reset_index(drop=True)
    sets = health.duplicate_groups(scores)
    out = scores.loc[sets["image"], ["split", "label", "case_id"]].reset_index(drop=True)
    return out.assign(kind=sets["kind"].array, dup_group=sets["group"].array)[columns]
