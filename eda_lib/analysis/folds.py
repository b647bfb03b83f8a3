"""Leakage groups and grouped, stratified folds.

Images that must never be split between training and validation form one group:
an authentic image and its forged twin (same ``case_id``), and images whose pixels
are identical or nearly identical across different case_ids (the same figure used
twice). :func:`leakage_groups` builds the groups with a union-find over those links;
:func:`grouped_folds` deals whole groups into K folds so that each fold gets about
the same number of images of every stratum (label x instances per image).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Columns that identify one image across tables.
IMAGE_KEY = ["split", "label", "case_id"]


class _UnionFind:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def leakage_groups(images: pd.DataFrame, duplicates: pd.DataFrame | None = None) -> pd.DataFrame:
    """One group id per labelled image, and why images share it.

    Parameters
    ----------
    images : DataFrame
        The ``images`` table (test images, which have no label, are left out).
    duplicates : DataFrame, optional
        Rows ``split, label, case_id, kind, dup_group``: images sharing a
        ``(kind, dup_group)`` are exact (``kind="exact"``) or near duplicates.

    Returns
    -------
    DataFrame
        ``split, label, case_id, group, group_size, reason``; ``reason`` lists the
        links that joined the image to others ("twin", "exact duplicate", "near
        duplicate"), empty for an image alone in its group. Groups are numbered
        from 0 in table order.
    """
    df = images[images["label"].isin(["authentic", "forged"])][IMAGE_KEY].reset_index(drop=True)
    uf = _UnionFind(len(df))
    reasons: list[set[str]] = [set() for _ in range(len(df))]

    def link(positions: list[int], why: str) -> None:
        for p in positions[1:]:
            uf.union(positions[0], p)
        if len(positions) > 1:
            for p in positions:
                reasons[p].add(why)

    for _, idx in df.groupby(["split", "case_id"], sort=False).groups.items():
        link(list(idx), "twin")
    if duplicates is not None and len(duplicates):
        pos = {key: i for i, key in enumerate(map(tuple, df[IMAGE_KEY].to_numpy()))}
        for (kind, _), rows in duplicates.groupby(["kind", "dup_group"], sort=False):
            members = [pos[k] for k in map(tuple, rows[IMAGE_KEY].to_numpy()) if k in pos]
            link(members, f"{kind} duplicate")
    roots = [uf.find(i) for i in range(len(df))]
    _, group = np.unique(roots, return_inverse=True)
    out = df.assign(group=group.astype(np.int64),
                    reason=["; ".join(sorted(r)) for r in reasons])
    out["group_size"] = out.groupby("group")["group"].transform("size").astype(np.int64)
    return out[IMAGE_KEY + ["group", "group_size", "reason"]]


def _strata(images: pd.DataFrame, masks: pd.DataFrame, groups: pd.DataFrame) -> pd.DataFrame:
    """Each grouped image with its stratum: label x instances (0, 1, 2, 3+)."""
    n = masks[["split", "case_id", "n_instances"]]
    df = groups.merge(n, on=["split", "case_id"], how="left")
    inst = df["n_instances"].where(df["label"] == "forged", 0).fillna(0).astype(int).clip(upper=3)
    return df.assign(stratum=df["label"] + ":" + inst.astype(str).replace("3", "3+"))


def grouped_folds(images: pd.DataFrame, masks: pd.DataFrame, groups: pd.DataFrame, k: int = 5,
                  seed: int = 0) -> pd.DataFrame:
    """Deal whole groups into ``k`` folds, balancing every stratum across folds.

    Groups are dealt largest first (ties in a seeded random order); each goes to the
    fold where it leaves the smallest squared shortfall against the per-fold target
    of every stratum. No group is ever split.

    Returns
    -------
    DataFrame
        ``split, label, case_id, group, stratum, fold`` (folds numbered 0..k-1).
    """
    if k < 2:
        raise ValueError(f"k must be at least 2, got {k}")
    df = _strata(images, masks, groups)
    strata = sorted(df["stratum"].unique())
    counts = pd.crosstab(df["group"], df["stratum"]).reindex(columns=strata, fill_value=0)
    target = counts.sum().to_numpy(float) / k
    rng = np.random.default_rng(seed)
    order = counts.assign(size=counts.sum(axis=1), tie=rng.random(len(counts)))
    order = order.sort_values(["size", "tie"], ascending=[False, True]).index
    filled = np.zeros((k, len(strata)))
    fold_of = {}
    for g in order:
        vec = counts.loc[g].to_numpy(float)
        cost = (((filled + vec) - target) ** 2).sum(axis=1) - ((filled - target) ** 2).sum(axis=1)
        best = int(np.argmin(cost + 1e-9 * filled.sum(axis=1)))  # ties: the emptier fold
        filled[best] += vec
        fold_of[g] = best
    out = df.assign(fold=df["group"].map(fold_of).astype(np.int64))
    return out[IMAGE_KEY + ["group", "stratum", "fold"]]


def fold_balance(folds: pd.DataFrame) -> pd.DataFrame:
    """Images per fold and stratum, with totals."""
    return pd.crosstab(folds["fold"], folds["stratum"], margins=True, margins_name="total")
