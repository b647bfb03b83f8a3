"""Leakage groups and grouped, stratified folds.

Images that must never be split between training and validation form one group:
an authentic image and its forged twin (same ``case_id``), and images whose pixels
are identical or nearly identical across different case_ids (the same figure used
twice). :func:`leakage_groups` builds the groups as the connected components of those
links; :func:`grouped_folds` deals whole groups into K folds so that each fold gets
about the same number of images of every stratum (label x instances per image). Both
are linear in the images (``benchmarks/bench_derive.py`` measures them on a million).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from ..errors import ConfigError

#: Columns that identify one image across tables.
IMAGE_KEY = ["split", "label", "case_id"]


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

    Notes
    -----
    Linear in the rows (plus a sort): every link set (the images of one case_id, the
    labelled images of one duplicate set) joins each member to the set's first, the
    groups are the connected components of those links
    (:func:`scipy.sparse.csgraph.connected_components`), numbered by their first image.
    A set with one labelled image links nothing and gives no reason.
    """
    df = images[images["label"].isin(["authentic", "forged"])][IMAGE_KEY].reset_index(drop=True)
    n = len(df)
    twins = df.groupby(["split", "case_id"], sort=False).ngroup().to_numpy()  # -1: no key
    sets = [("twin", np.arange(n), twins)]
    if duplicates is not None and len(duplicates):
        members = _positions(df, duplicates[IMAGE_KEY])
        dup_set = duplicates.groupby(["kind", "dup_group"], sort=False).ngroup().to_numpy()
        dup_set = np.where(members >= 0, dup_set, -1)  # images not grouped link nothing
        kinds = duplicates["kind"].to_numpy(object)
        for kind in pd.unique(kinds[dup_set >= 0]):
            of_kind = (kinds == kind) & (dup_set >= 0)
            sets.append((f"{kind} duplicate", members[of_kind], dup_set[of_kind]))
    edges, reasons = [], {}
    for why, positions, set_id in sets:
        keep = set_id >= 0
        positions, set_id = positions[keep], set_id[keep]
        linked = np.bincount(set_id)[set_id] > 1 if len(set_id) else np.zeros(0, bool)
        positions, set_id = positions[linked], set_id[linked]
        first = np.full(set_id.max() + 1 if len(set_id) else 0, -1, dtype=np.int64)
        first[set_id[::-1]] = positions[::-1]  # the first member of each set
        edges.append((positions, first[set_id]))
        flag = reasons.setdefault(why, np.zeros(n, bool))
        flag[positions] = True
    group = _components(n, edges)
    out = df.assign(group=group, reason=_reason_text(reasons, n))
    out["group_size"] = np.bincount(group, minlength=1)[group].astype(np.int64) if n else group
    return out[IMAGE_KEY + ["group", "group_size", "reason"]]


def _positions(df: pd.DataFrame, keys: pd.DataFrame) -> np.ndarray:
    """Position in ``df`` of each row of ``keys`` (the last row with that key), -1 if none."""
    both = pd.concat([df[IMAGE_KEY], keys[IMAGE_KEY]], ignore_index=True)
    key_id = both.groupby(IMAGE_KEY, sort=False, dropna=False).ngroup().to_numpy()
    last = np.full(key_id.max() + 1, -1, dtype=np.int64)
    np.maximum.at(last, key_id[:len(df)], np.arange(len(df)))
    return last[key_id[len(df):]]


def _components(n: int, edges: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """Connected components of ``n`` nodes joined by ``edges``, numbered from 0 in the
    order of their first node."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    a = np.concatenate([e[0] for e in edges])
    b = np.concatenate([e[1] for e in edges])
    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n)).tocsr()
    _, labels = connected_components(graph, directed=False)
    _, first = np.unique(labels, return_index=True)  # each component's first node
    rank = np.empty(len(first), dtype=np.int64)
    rank[np.argsort(first)] = np.arange(len(first))
    return rank[labels]


def _reason_text(reasons: dict[str, np.ndarray], n: int) -> np.ndarray:
    """Each image's links, sorted and joined by "; " ("" for none)."""
    names = list(reasons)
    code = np.zeros(n, dtype=np.int64)
    for bit, name in enumerate(names):
        code |= reasons[name].astype(np.int64) << bit
    used, inverse = np.unique(code, return_inverse=True)
    text = np.array(["; ".join(sorted(name for bit, name in enumerate(names) if c >> bit & 1))
                     for c in used], dtype=object)
    return text[inverse] if n else np.zeros(0, dtype=object)


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

    Notes
    -----
    With more folds than groups every group gets a fold of its own: an empty fold
    always costs less than one that holds images, and the first of equal costs wins,
    so the groups fill folds 0, 1, ... in the order they are dealt and the other
    folds stay empty (:func:`empty_folds_note` says so). That is computed directly,
    so time and memory do not grow with ``k``.
    """
    if k < 2:
        raise ValueError(f"k must be at least 2, got {k}")
    df = _strata(images, masks, groups)
    strata = sorted(df["stratum"].unique())
    # images per group (in sorted order) and stratum
    groups_sorted, group_at = np.unique(df["group"].to_numpy(np.int64), return_inverse=True)
    stratum_at = pd.Index(strata).get_indexer(df["stratum"])
    counts = np.bincount(group_at * len(strata) + stratum_at,
                         minlength=len(groups_sorted) * len(strata))
    counts = counts.reshape(len(groups_sorted), len(strata))
    target = counts.sum(axis=0).astype(float) / k
    rng = np.random.default_rng(seed)
    order = pd.DataFrame({"size": counts.sum(axis=1), "tie": rng.random(len(counts))})
    order = order.sort_values(["size", "tie"], ascending=[False, True]).index.to_numpy()
    if k > len(counts):
        fold_of = np.empty(len(counts), dtype=np.int64)
        fold_of[order] = np.arange(len(counts))
    else:
        fold_of = _deal(counts.astype(float), order, target, k)
    out = df.assign(fold=fold_of[group_at])
    return out[IMAGE_KEY + ["group", "stratum", "fold"]]


def _deal(vectors: np.ndarray, order: np.ndarray, target: np.ndarray, k: int) -> np.ndarray:
    """The fold of each group (row of ``vectors``), dealt in ``order``.

    Group ``g`` goes to the first fold ``f`` of least ``cost[f] + 1e-9 * filled[f].sum()``,
    where ``cost[f]`` is ``((filled[f] + vec - target) ** 2).sum()`` less
    ``((filled[f] - target) ** 2).sum()``: each choice depends on the ones before, so
    groups are dealt one by one. Groups come largest first, and the many groups of one
    size share few distinct vectors: within such a run each fold keeps the squared sum
    of every distinct vector (the zero vector's is the second term), and only the fold
    that took the last group sums again. Every sum is the same NumPy reduction over the
    same values as a row of the ``(k, strata)`` arrays, and the rest is the same float
    arithmetic, so the folds are those of the plain loop (:func:`_deal_plainly`) to the
    last bit.
    """
    filled = np.zeros((k, vectors.shape[1]))
    fold_of = np.zeros(len(vectors), dtype=np.int64)
    size = vectors[order].sum(axis=1)
    starts = np.flatnonzero(np.diff(size, prepend=-1.0)).tolist() + [len(order)]
    for start, stop in zip(starts[:-1], starts[1:]):
        run = order[start:stop]
        distinct, kind = np.unique(vectors[run], axis=0, return_inverse=True)
        if len(run) >= 8 * len(distinct):
            _deal_run(vectors, run, np.vstack([np.zeros_like(distinct[:1]), distinct]),
                      kind.reshape(-1) + 1, target, filled, fold_of)
        else:
            _deal_plainly(vectors, run, target, filled, fold_of)
    return fold_of


def _deal_plainly(vectors: np.ndarray, run: np.ndarray, target: np.ndarray,
                  filled: np.ndarray, fold_of: np.ndarray) -> None:
    """Deal the groups ``run``, in order, into ``filled``, one NumPy step per group."""
    for at in run.tolist():
        vec = vectors[at]
        cost = (((filled + vec) - target) ** 2).sum(axis=1) - ((filled - target) ** 2).sum(axis=1)
        best = int(np.argmin(cost + 1e-9 * filled.sum(axis=1)))  # ties: the emptier fold
        filled[best] += vec
        fold_of[at] = best


def _deal_run(vectors: np.ndarray, run: np.ndarray, table: np.ndarray, kind: np.ndarray,
              target: np.ndarray, filled: np.ndarray, fold_of: np.ndarray) -> None:
    """:func:`_deal_plainly` for a run of groups whose vectors are rows of ``table`` (row
    0 the zero vector; ``kind`` the row of each group), with each fold's squared sums
    kept per row of ``table``."""
    k = len(filled)
    work = np.empty_like(table)
    sizes = table.sum(axis=1).tolist()  # exact: whole numbers
    counts = [float(filled[f].sum()) for f in range(k)]  # images per fold, exact
    sums = []
    for f in range(k):
        np.subtract(np.add(filled[f], table, out=work), target, out=work)
        sums.append(np.add.reduce(np.square(work, out=work), axis=1).tolist())
    for at, v in zip(run.tolist(), kind.tolist()):
        best, low = 0, math.inf
        for f in range(k):
            fold_sums = sums[f]
            cost = (fold_sums[v] - fold_sums[0]) + 1e-9 * counts[f]
            if cost < low:  # the first fold of least cost, as argmin
                best, low = f, cost
        row = filled[best]
        row += table[v]
        np.subtract(np.add(row, table, out=work), target, out=work)
        sums[best] = np.add.reduce(np.square(work, out=work), axis=1).tolist()
        counts[best] += sizes[v]
        fold_of[at] = best


def fold_balance(folds: pd.DataFrame) -> pd.DataFrame:
    """Images per fold and stratum, with totals."""
    return pd.crosstab(folds["fold"], folds["stratum"], margins=True, margins_name="total")


def empty_folds_note(folds: pd.DataFrame, k: int) -> str:
    """One line on how many of the ``k`` folds asked for hold images; when some are
    empty (more folds than groups), which ones and the fix."""
    held = sorted(f for f in set(folds["fold"].dropna().astype(int)) if 0 <= f < k)
    if len(held) == k:
        sizes = folds["fold"].value_counts().reindex(held)
        return (f"{k} folds, each holding images: {int(sizes.min())} to {int(sizes.max())} "
                "per fold.")
    runs = [(a + 1, b - 1) for a, b in zip([-1, *held], [*held, k]) if b - a > 1]
    span = ", ".join(f"{lo}" if lo == hi else f"{lo} .. {hi}" for lo, hi in runs)
    n_groups = folds["group"].nunique()
    return (f"{k} folds asked for, {len(held)} hold images: there are {n_groups} "
            f"groups to deal and a group is never split. Empty: fold(s) {span}; set the "
            f"parameter folds to at most {max(2, n_groups)}.")


def check_fold_count(k: int, n_groups: int) -> None:
    """Refuse ``k`` folds of ``n_groups`` leakage groups when some fold would be empty.

    Raises
    ------
    ConfigError
        ``k`` above ``n_groups`` (a group is never split, so the folds past the
        groups hold nothing), naming both and the folds that can be asked for.
    """
    if k <= n_groups:
        return
    can = (f"ask for 2 to {n_groups} folds" if n_groups >= 2 else
           "there are too few to make 2 folds; add labelled images")
    raise ConfigError(f"{k} folds asked for, but the labelled images form {n_groups} "
                      f"leakage group(s) and a group is never split between folds: {can}",
                      key="folds")
