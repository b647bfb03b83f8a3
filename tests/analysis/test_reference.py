"""The dataset-level steps against straightforward reference versions, on seeded random tables.

The steps were rewritten with whole-array operations to run on a million rows
(``benchmarks/bench_derive.py``); the references below are the row-by-row versions they
replaced. Each test draws small random tables (twins, duplicate sets with members of
every kind, sets with one labelled member, unreadable images) and asks for the same
frame, dtypes and index included.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eda_lib.analysis import derive, folds, stats, summary
from eda_lib.config import make_config
from eda_lib.dataset.masks import RULES
from eda_lib.measure import health
from eda_lib.tables import SCHEMAS, frame

SEEDS = range(40)

# ----------------------------------------------------------------------------- references


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


def reference_leakage_groups(images, duplicates=None):
    key = folds.IMAGE_KEY
    df = images[images["label"].isin(["authentic", "forged"])][key].reset_index(drop=True)
    uf = _UnionFind(len(df))
    reasons = [set() for _ in range(len(df))]

    def link(positions, why):
        for p in positions[1:]:
            uf.union(positions[0], p)
        if len(positions) > 1:
            for p in positions:
                reasons[p].add(why)

    for _, idx in df.groupby(["split", "case_id"], sort=False).groups.items():
        link(list(idx), "twin")
    if duplicates is not None and len(duplicates):
        pos = {k: i for i, k in enumerate(map(tuple, df[key].to_numpy()))}
        for (kind, _), rows in duplicates.groupby(["kind", "dup_group"], sort=False):
            members = [pos[k] for k in map(tuple, rows[key].to_numpy()) if k in pos]
            link(members, f"{kind} duplicate")
    roots = [uf.find(i) for i in range(len(df))]
    _, group = np.unique(roots, return_inverse=True)
    out = df.assign(group=group.astype(np.int64), reason=["; ".join(sorted(r)) for r in reasons])
    out["group_size"] = out.groupby("group")["group"].transform("size").astype(np.int64)
    return out[key + ["group", "group_size", "reason"]]


def reference_grouped_folds(images, masks, groups, k=5, seed=0):
    df = folds._strata(images, masks, groups)
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
        best = int(np.argmin(cost + 1e-9 * filled.sum(axis=1)))
        filled[best] += vec
        fold_of[g] = best
    out = df.assign(fold=df["group"].map(fold_of).astype(np.int64))
    return out[folds.IMAGE_KEY + ["group", "stratum", "fold"]]


def reference_duplicates(scores):
    columns = ["split", "label", "case_id", "kind", "dup_group"]
    if scores.empty:
        return pd.DataFrame(columns=columns)
    scores = scores.reset_index(drop=True)

    def equal_key_sets(key):
        members = {}
        for position, value in enumerate(key):
            if not pd.isna(value):
                members.setdefault(value, []).append(position)
        return [m for m in members.values() if len(m) > 1]

    exact = equal_key_sets(scores["pixel_hash"])
    near = [m for m in equal_key_sets(scores["phash"]) if set(m) not in map(set, exact)]
    rows = [(*scores.loc[p, ["split", "label", "case_id"]], kind, group)
            for group, (kind, members) in enumerate([("exact", m) for m in exact]
                                                    + [("near", m) for m in near])
            for p in members]
    keys = scores[["split", "label", "case_id"]].dtypes.to_dict()
    return pd.DataFrame(rows, columns=columns).astype({**keys, "kind": "str",
                                                       "dup_group": np.int64})


def reference_derive(tables, cfg):
    scores = tables["image_scores"]
    flagged = health.flag_issues(scores) if len(scores) else scores
    keep = [c.name for c in SCHEMAS["health"]]
    groups = reference_leakage_groups(tables["images"], reference_duplicates(scores))
    folded = reference_grouped_folds(tables["images"], tables["masks"], groups, k=cfg.folds,
                                     seed=cfg.seed)
    return {
        "health": frame("health", flagged.reindex(columns=keep).to_dict("records")),
        "groups": frame("groups", groups.to_dict("records")),
        "folds": frame("folds", folded.to_dict("records")),
    }


def reference_common_sizes(images, n=10):
    df = stats.described_images(images).dropna(subset=["width", "height"])
    size = df["height"].astype(int).astype(str) + " x " + df["width"].astype(int).astype(str)
    table = pd.crosstab(size.rename("height x width"), df["label"])
    table["total"] = table.sum(axis=1)
    return table.sort_values("total", ascending=False, kind="stable").head(n)


def reference_mask_checks(images, masks):
    """:func:`stats.mask_checks` with the stored (H, W) read by splitting each shape."""
    forged = images[(images["label"] == "forged") & images["has_mask"]]
    joined = masks.merge(
        forged[["split", "case_id", "width", "height"]].rename(
            columns={"width": "image_width", "height": "image_height"}),
        on=["split", "case_id"], how="inner",
    )
    stored_hw = joined["shape"].fillna("").str.split("x").str[-2:].str.join("x")
    image_hw = joined["image_height"].astype("string") + "x" + joined["image_width"].astype("string")
    return int((stored_hw == image_hw).sum())


def reference_rules_applied(masks):
    notes = masks["notes"].fillna("").str.split(";").explode()
    counts = notes[notes != ""].value_counts()
    return pd.DataFrame({"masks": counts.astype(int),
                         "meaning": [RULES.get(k, "") for k in counts.index]}).rename_axis("rule")


def reference_flagged_issues(h):
    flags = stats._flag_columns(h)
    long = h.melt(id_vars=["label"], value_vars=list(flags), var_name="issue",
                  value_name="flagged")
    long = long[long["flagged"].fillna(False).astype(bool)]
    return long.assign(issue=long["issue"].map(flags))[["label", "issue"]]


# ----------------------------------------------------------------------------- random tables


def random_tables(seed: int) -> dict[str, pd.DataFrame]:
    """``images``, ``image_scores`` and ``masks`` of a small random dataset: twins, forged
    images alone, test images, unreadable images, hashes drawn from small alphabets so
    that exact and near sets of every size (and near sets equal to exact ones) occur."""
    rng = np.random.default_rng(seed)
    rows = []
    for case in rng.choice(1000, size=int(rng.integers(1, 40)), replace=False):
        split = "train" if rng.random() < 0.8 else "supplemental"
        labels = [lab for lab, p in (("authentic", 0.6), ("forged", 0.8)) if rng.random() < p]
        rows += [(split, lab, str(case)) for lab in labels or ["forged"]]
    rows += [("test", "", str(1000 + i)) for i in range(int(rng.integers(0, 4)))]
    order = rng.permutation(len(rows))
    rows = [rows[i] for i in order]
    n = len(rows)
    ok = rng.random(n) < 0.9
    sizes = [(40, 60), (60, 40), (100, 100), (7, 300)]
    size = [sizes[i] for i in rng.integers(0, len(sizes), n)]
    images = frame("images", [
        {"split": s, "label": lab, "case_id": c, "status": "ok" if good else "truncated_image",
         "width": w if good else None, "height": h if good else None,
         "mode": str(rng.choice(["RGB", "L", "RGBA"])) if good else None,
         "has_mask": lab == "forged" and bool(rng.random() < 0.9),
         "twin": sum(1 for r in rows if r[0] == s and r[2] == c) > 1}
        for (s, lab, c), good, (w, h) in zip(rows, ok, size)])
    pixel = rng.integers(0, max(2, n // 2), n)
    near = np.where(rng.random(n) < 0.5, pixel, rng.integers(0, max(2, n // 3), n))
    scores = frame("image_scores", [
        {"split": s, "label": lab, "case_id": c,
         "brightness_perc_5": float(rng.random()), "brightness_perc_99": float(rng.random()),
         "entropy": float(rng.uniform(0, 8)), "blurriness": float(rng.uniform(0, 100)),
         "blurriness_grayscale_std": float(rng.uniform(0, 100)),
         "aspect_ratio": min(w / h, h / w), "size": float(np.sqrt(w * h)),
         "grayscale": bool(rng.random() < 0.2),
         "pixel_hash": f"p{pixel[i]}", "phash": f"h{near[i]}"} if ok[i] else
        {"split": s, "label": lab, "case_id": c}
        for i, ((s, lab, c), (w, h)) in enumerate(zip(rows, size))])
    masks = frame("masks", [
        {"split": s, "case_id": c, "n_instances": int(rng.integers(0, 5)),
         "status": str(rng.choice(["ok", "normalized", "empty", "bad_mask_dtype"])),
         "shape": str(rng.choice(["2x40x60", "40x60", "", "3x1x40x60"])),
         "notes": str(rng.choice(["", "resized_to_image", "values_scaled"]))}
        for s, lab, c in rows if lab == "forged" and rng.random() < 0.9])
    return {"images": images, "image_scores": scores, "masks": masks}


def random_duplicates(tables, seed: int) -> pd.DataFrame:
    """Duplicate rows drawn straight from the images (test images included, a member
    repeated now and then): sets of one to six rows of kind exact or near."""
    rng = np.random.default_rng(seed + 1000)
    keys = tables["images"][folds.IMAGE_KEY]
    rows = []
    for group in range(int(rng.integers(0, 8))):
        kind = str(rng.choice(["exact", "near"]))
        for at in rng.choice(len(keys), size=int(rng.integers(1, 7))):
            rows.append({**keys.iloc[at].to_dict(), "kind": kind, "dup_group": group})
    return pd.DataFrame(rows, columns=[*folds.IMAGE_KEY, "kind", "dup_group"])


# ----------------------------------------------------------------------------- tests


@pytest.mark.parametrize("seed", SEEDS)
def test_leakage_groups_match_the_union_find(seed):
    tables = random_tables(seed)
    for dup in (None, random_duplicates(tables, seed), derive.duplicates(tables["image_scores"])):
        pd.testing.assert_frame_equal(folds.leakage_groups(tables["images"], dup),
                                      reference_leakage_groups(tables["images"], dup))


@pytest.mark.parametrize("seed", SEEDS)
def test_grouped_folds_match_the_per_group_loop(seed):
    tables = random_tables(seed)
    groups = folds.leakage_groups(tables["images"], random_duplicates(tables, seed))
    for k in (2, 3, 5, groups["group"].nunique() + 3):  # the last: more folds than groups
        pd.testing.assert_frame_equal(
            folds.grouped_folds(tables["images"], tables["masks"], groups, k=k, seed=seed),
            reference_grouped_folds(tables["images"], tables["masks"], groups, k=k, seed=seed))


def test_grouped_folds_match_on_many_groups_of_every_size():
    """Thousands of groups whose sizes repeat: many ties in cost, each broken as before."""
    rng = np.random.default_rng(7)
    n = 3000
    images = pd.DataFrame({"split": "train", "label": rng.choice(["authentic", "forged"], n),
                           "case_id": [str(i) for i in range(n)]})
    masks = pd.DataFrame({"split": "train", "case_id": images["case_id"],
                          "n_instances": rng.integers(0, 6, n)})
    group = rng.integers(0, 1200, n)
    group[:300] = rng.integers(0, 4, 300)  # a few large groups
    groups = images.assign(group=group)
    for k in (2, 5, 7):
        pd.testing.assert_frame_equal(
            folds.grouped_folds(images, masks, groups, k=k, seed=3),
            reference_grouped_folds(images, masks, groups, k=k, seed=3))


@pytest.mark.parametrize("seed", SEEDS)
def test_duplicates_match_the_duplicate_groups_rows(seed):
    scores = random_tables(seed)["image_scores"]
    for part in (scores, scores.iloc[:0], scores.iloc[::2]):
        pd.testing.assert_frame_equal(derive.duplicates(part), reference_duplicates(part))


@pytest.mark.parametrize("seed", range(10))
def test_derive_matches_the_reference_tables(seed):
    tables = random_tables(seed)
    cfg = make_config({"data_dir": "d", "folds": 3, "seed": seed})
    got, want = derive.derive(tables, cfg), reference_derive(tables, cfg)
    for name in want:
        pd.testing.assert_frame_equal(got[name], want[name])


def test_derive_of_the_tiny_dataset_matches_the_reference(tables):
    measured = {"images": tables.images, "image_scores": tables.image_scores,
                "masks": tables.masks}
    cfg = make_config({"data_dir": "d", "folds": 2})
    got, want = derive.derive(measured, cfg), reference_derive(measured, cfg)
    for name in want:
        pd.testing.assert_frame_equal(got[name], want[name])


@pytest.mark.parametrize("seed", range(10))
def test_stats_match_their_references(seed):
    t = random_tables(seed)
    pd.testing.assert_frame_equal(stats.common_sizes(t["images"], n=3),
                                  reference_common_sizes(t["images"], n=3))
    shapes = pd.Series(["2x40x60", "40x60", "", "3x1x40x60", "x", "7", "ax", "60x40", None] * 3,
                       dtype="string")
    masks = t["masks"].assign(shape=shapes.sample(len(t["masks"]), replace=True,
                                                  random_state=seed).to_numpy())
    checks = stats.mask_checks(t["images"], masks).set_index("check")["count"]
    assert checks["stored (H, W) equals the image's"] == reference_mask_checks(t["images"], masks)
    notes = ["", "resized_to_image", "values_scaled;resized_to_image", "a;;b", None]
    for part in (masks, masks.iloc[:0], masks.assign(notes=None),
                 masks.assign(notes=[notes[i % 5] for i in range(len(masks))])):
        pd.testing.assert_frame_equal(stats.rules_applied(part), reference_rules_applied(part))
    h = derive.derive(t, make_config({"data_dir": "d", "folds": 2}))["health"]
    for part in (h, h.iloc[:0], h.iloc[1::2]):
        pd.testing.assert_frame_equal(stats.flagged_issues(part), reference_flagged_issues(part))


def test_rewritten_stats_of_the_tiny_dataset(tables):
    pd.testing.assert_frame_equal(stats.flagged_issues(tables.health),
                                  reference_flagged_issues(tables.health))
    pd.testing.assert_frame_equal(stats.common_sizes(tables.images),
                                  reference_common_sizes(tables.images))
    pd.testing.assert_frame_equal(stats.rules_applied(tables.masks),
                                  reference_rules_applied(tables.masks))


def test_counted_measurable_forged_is_the_length_of_the_rows(tables):
    assert stats.n_measurable_forged(tables) == len(stats.measurable_forged(tables))


def test_summary_computes_its_numbers_once_with_the_same_text(tables):
    md = summary.to_markdown(tables)
    assert all(f"**{x.topic}**: {x.text}" in md for x in summary.findings(tables))
    table = summary.as_frame(tables)
    assert list(table["text"]) == ([x.text for x in summary.findings(tables)]
                                   + [r.text for r in summary.recommendations(tables)])
