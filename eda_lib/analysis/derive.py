"""Dataset-level tables, computed from the measured ones after every data pass.

They depend on all images at once (groups of twins and duplicates, folds), so
they are not cached per file; they are cheap to recompute.
"""

from __future__ import annotations

import numpy as np
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
        "health": _as_table("health", flagged.reindex(columns=keep)),
        "groups": _as_table("groups", groups),
        "folds": _as_table("folds", folds),
    }


def _as_table(name: str, df: pd.DataFrame) -> pd.DataFrame:
    """``frame(name, df.to_dict("records"))``, column by column: the schema's columns and
    dtypes, a column ``df`` lacks all null (the same frame, without a dict per row)."""
    columns = {c.name: c for c in SCHEMAS[name]}
    unknown = [c for c in df.columns if c not in columns]
    if unknown:
        raise KeyError(f"table {name!r} has no column(s) {sorted(unknown)}")
    if df.empty:
        return frame(name, [])
    data = {}
    for c in columns.values():
        dtype = pd.StringDtype() if c.dtype == "str" else c.dtype
        values = df[c.name].to_numpy(object) if c.name in df else [None] * len(df)
        data[c.name] = pd.array(values, dtype=dtype)
    return pd.DataFrame(data, columns=list(columns))


def duplicates(scores: pd.DataFrame) -> pd.DataFrame:
    """Exact and near duplicate sets as rows ``split, label, case_id, kind, dup_group``.

    The sets of :func:`eda_lib.measure.health.duplicate_groups` (exact sets first, each
    kind in order of first member, members in table order), built from its sets with
    whole-array steps instead of a Python step per member.
    """
    columns = ["split", "label", "case_id", "kind", "dup_group"]
    if scores.empty:
        return pd.DataFrame(columns=columns)
    found = health._duplicate_sets(scores.reset_index(drop=True))
    sets = [("exact", s) for s in found["exact_duplicates"]]
    sets += [("near", s) for s in found["near_duplicates"]]
    sizes = [len(s) for _, s in sets]
    members = np.concatenate([s for _, s in sets]) if sets else np.zeros(0, dtype=np.int64)
    keys = scores.reset_index(drop=True)[["split", "label", "case_id"]]
    out = keys.loc[members].reset_index(drop=True)
    kind = np.repeat(np.array([k for k, _ in sets], dtype=object), sizes)
    group = np.repeat(np.arange(len(sets), dtype=np.int64), sizes)
    return out.assign(kind=kind, dup_group=group)[columns]
