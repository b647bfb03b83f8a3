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
        "health": frame("health", flagged.reindex(columns=keep).to_dict("records")),
        "groups": frame("groups", groups.to_dict("records")),
        "folds": frame("folds", folds.to_dict("records")),
    }


def duplicates(scores: pd.DataFrame) -> pd.DataFrame:
    """Exact and near duplicate sets as rows ``split, label, case_id, kind, dup_group``."""
    columns = ["split", "label", "case_id", "kind", "dup_group"]
    if scores.empty:
        return pd.DataFrame(columns=columns)
    sets = health.duplicate_groups(scores.reset_index(drop=True))
    keys = scores.reset_index(drop=True)[["split", "label", "case_id"]]
    out = keys.loc[sets["image"]].reset_index(drop=True)
    return out.assign(kind=sets["kind"].to_numpy(), dup_group=sets["group"].to_numpy())[columns]
