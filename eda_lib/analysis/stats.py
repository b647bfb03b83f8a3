"""Summaries of the tables: small pure functions, DataFrame in, DataFrame out.

The notebooks display these; the analyst summary (:mod:`eda_lib.summary`) quotes
them. Nothing here reads files.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..dataset.index import FLAT_SPLIT, SPLITS
from ..dataset.masks import RULES
from ..measure.health import ISSUES
from ..tables import MASK_MEASURED, MASK_READ


def _labelled(images: pd.DataFrame) -> pd.DataFrame:
    return images[images["label"].isin(["authentic", "forged"])]


def counted(n: int, one: str, many: str) -> str:
    """``n`` with the words that agree with it, for the report's sentences.

    Examples
    --------
    >>> counted(1, "image has", "images have"), counted(2, "pair", "pairs")
    ('1 image has', '2 pairs')
    """
    return f"{n} {one if n == 1 else many}"


def is_flat_folder(images: pd.DataFrame) -> bool:
    """Whether the ``images`` table is a flat folder's: some images, every one of the
    ``"unlabelled"`` split (no label, mask or twin).

    Examples
    --------
    >>> is_flat_folder(pd.DataFrame({"split": ["unlabelled"]})), is_flat_folder(pd.DataFrame())
    (True, False)
    """
    return bool(len(images)) and bool(images["split"].eq(FLAT_SPLIT).all())


def shown_labels(table: pd.DataFrame) -> pd.Series:
    """The ``label`` column of ``table`` as the tables and figures show it: an image without
    a label shows ``"(unlabelled)"`` when it comes from a flat folder of images (split
    ``"unlabelled"``), else ``"(test)"``."""
    flat = table["split"].eq(FLAT_SPLIT) if "split" in table else False
    unlabelled = pd.Series("(test)", index=table.index).mask(flat, f"({FLAT_SPLIT})")
    return table["label"].mask(table["label"].eq(""), unlabelled)


def described_images(images: pd.DataFrame) -> pd.DataFrame:
    """The images that the size, mode and file-size statistics describe, by label.

    The labelled images (authentic, forged); when no image is labelled, the images of a
    flat folder (split ``"unlabelled"``), their label shown as :func:`shown_labels`. Test
    images are left out either way, as the competition's hidden test set is.

    Examples
    --------
    >>> flat = pd.DataFrame({"split": ["unlabelled"], "label": [""], "width": [5]})
    >>> described_images(flat)["label"].tolist()
    ['(unlabelled)']
    """
    labelled = _labelled(images)
    if len(labelled):
        return labelled
    flat = images[images["split"].eq(FLAT_SPLIT)]
    return flat.assign(label=shown_labels(flat))


def split_label_counts(images: pd.DataFrame) -> pd.DataFrame:
    """Images per split and label, with totals."""
    label = shown_labels(images)
    table = pd.crosstab(images["split"], label, margins=True, margins_name="total")
    order = [s for s in SPLITS if s in table.index] + ["total"]
    return table.reindex(order)


def sanity_checks(images: pd.DataFrame, masks: pd.DataFrame, problems: pd.DataFrame) -> pd.DataFrame:
    """The index checks, one row each: what was counted and how many.

    Rows: images, forged images, forged with a mask, forged without a mask,
    twin pairs (authentic and forged share a case_id), forged without a twin,
    authentic without a forged twin, orphan masks, unreadable images, refused
    masks, stray files. A flat folder of images has no label, mask or twin: its
    checks are the images, the unreadable ones and the stray files.
    """
    forged = images[images["label"] == "forged"]
    authentic = images[images["label"] == "authentic"]
    pairs = int((forged["twin"]).sum())
    unreadable = int((images["status"] != "ok").sum())
    refused = int((~masks["status"].isin(MASK_READ)).sum())
    kinds = problems["kind"].value_counts()
    rows = [
        ("images", len(images), "every image file in the layout"),
        ("forged images", len(forged), "train and supplemental"),
        ("forged with a mask", int(forged["has_mask"].sum()), "mask file exists for the forged image"),
        ("forged without a mask", int((~forged["has_mask"]).sum()), "no mask file: cannot be measured"),
        ("twin pairs", pairs, "authentic and forged share a case_id"),
        ("forged without a twin", len(forged) - pairs, "no authentic original"),
        ("authentic without a forged twin", int((~authentic["twin"]).sum()),
         "the real data has none"),
        ("orphan masks", int(kinds.get("orphan_mask", 0)), "mask without a forged image"),
        ("unreadable images", unreadable, "see the problems table"),
        ("refused masks", refused, "see the problems table"),
        ("stray files", int(kinds.get("stray_file", 0) + kinds.get("stray_folder", 0)),
         "files that are not part of the layout"),
    ]
    if is_flat_folder(images):
        rows = [r for r in rows if r[0] in ("images", "unreadable images", "stray files")]
    return pd.DataFrame(rows, columns=["check", "count", "meaning"])


def geometry_by_label(images: pd.DataFrame) -> pd.DataFrame:
    """Quantiles of width, height, aspect, megapixels and file size per label."""
    df = described_images(images).assign(
        megapixels=lambda d: d["width"] * d["height"] / 1e6,
        file_kb=lambda d: d["file_bytes"] / 1024,
    )
    cols = ["width", "height", "aspect", "megapixels", "file_kb"]
    out = df.groupby("label")[cols].describe(percentiles=[0.05, 0.5, 0.95])
    keep = ["count", "min", "5%", "50%", "95%", "max"]
    return out.loc[:, (slice(None), keep)].astype(float).round(3)


def mode_counts(images: pd.DataFrame) -> pd.DataFrame:
    """Image modes per label (counts), with totals."""
    df = described_images(images)
    return pd.crosstab(df["mode"].fillna("(unreadable)"), df["label"], margins=True,
                       margins_name="total")


def common_sizes(images: pd.DataFrame, n: int = 10) -> pd.DataFrame:
    """The ``n`` most common (height x width) sizes with counts per label."""
    df = described_images(images).dropna(subset=["width", "height"])
    # counted per (height, width, label) and named once per size: a crosstab of the size
    # names would call Python once per size and make a string per image
    keys = pd.DataFrame({"h": df["height"].astype(int), "w": df["width"].astype(int),
                         "label": df["label"]})
    table = keys.groupby(["h", "w", "label"]).size().unstack("label", fill_value=0)
    table.index = pd.Index([f"{h} x {w}" for h, w in table.index], name="height x width")
    table = table.sort_index()  # as a crosstab of the names orders them
    table.columns = pd.Index(table.columns, name="label")
    table["total"] = table.sum(axis=1)
    return table.sort_values("total", ascending=False, kind="stable").head(n)


def twin_mode_pairs(images: pd.DataFrame) -> pd.DataFrame:
    """For twin pairs: (authentic mode, forged mode) counts, and size agreement."""
    df = images[images["twin"] & images["label"].isin(["authentic", "forged"])]
    wide = df.pivot_table(index=["split", "case_id"], columns="label",
                          values=["mode", "width", "height"], aggfunc="first")
    if wide.empty:
        return pd.DataFrame(columns=["authentic mode", "forged mode", "same size", "pairs"])
    # a column whose values were all missing (no forged image decoded) is left out by
    # pivot_table: put back empty; a size not read is not the same size
    for label in ("authentic", "forged"):
        for value, dtype in (("mode", "str"), ("width", "Int64"), ("height", "Int64")):
            if (value, label) not in wide.columns:
                wide[(value, label)] = pd.Series(None, index=wide.index, dtype=dtype)
    same = ((wide[("width", "authentic")] == wide[("width", "forged")]) & (
        wide[("height", "authentic")] == wide[("height", "forged")])).fillna(False)
    out = pd.DataFrame({
        "authentic mode": wide[("mode", "authentic")].fillna("?"),
        "forged mode": wide[("mode", "forged")].fillna("?"),
        "same size": same.astype(bool),
    })
    return out.value_counts().rename("pairs").reset_index()


def mask_checks(images: pd.DataFrame, masks: pd.DataFrame) -> pd.DataFrame:
    """Mask structure checks, one row each: shape, dtype/values, emptiness."""
    forged = images[(images["label"] == "forged") & images["has_mask"]]
    joined = masks.merge(
        forged[["split", "case_id", "width", "height"]].rename(
            columns={"width": "image_width", "height": "image_height"}),
        on=["split", "case_id"], how="inner",
    )
    notes = masks["notes"].fillna("")
    # the last two fields of "NxHxW" (the whole text when it has fewer)
    stored_hw = joined["shape"].fillna("").str.replace(r"^.*x([^x]*x[^x]*)$", r"\1", regex=True)
    image_hw = joined["image_height"].astype("string") + "x" + joined["image_width"].astype("string")
    rows = [
        ("masks", len(masks), "mask files found"),
        ("(N, H, W) uint8 as the competition stores them",
         int(((masks["dtype"] == "uint8") & (_ndim(masks) == 3)).sum()),
         "3-D, channel-first, uint8"),
        ("stored (H, W) equals the image's", int((stored_hw == image_hw).sum()),
         f"of {len(joined)} masks with a readable forged image"),
        ("resized to the image", int(notes.str.contains("resized_to_image").sum()),
         "size differed from the image"),
        ("values normalised", int(notes.str.contains("values").sum()),
         "values were not {0, 1} (see notes)"),
        ("all-zero masks", int((masks["status"] == "empty").sum()), "no pixel marked"),
        ("masks with an empty channel", int((masks["n_empty"].fillna(0) > 0).sum()),
         "at least one channel has no pixel"),
        ("refused", int((~masks["status"].isin(MASK_READ)).sum()),
         "could not be read (problems table)"),
    ]
    return pd.DataFrame(rows, columns=["check", "count", "meaning"])


def _ndim(masks: pd.DataFrame) -> pd.Series:
    """Dimensions of each stored mask, read from its ``shape`` (``"NxHxW"``); NaN when unread."""
    return masks["shape"].str.count("x").add(1).rename("ndim")


def mask_shape_counts(masks: pd.DataFrame) -> pd.DataFrame:
    """Masks per stored dtype and number of dimensions.

    Parameters
    ----------
    masks : pandas.DataFrame
        The ``masks`` table (columns ``dtype`` and ``shape``, e.g. ``"2x30x40"``).

    Returns
    -------
    pandas.DataFrame
        Index (dtype, ndim), one column ``masks``. Masks that were never read (no
        dtype or shape) are left out.
    """
    return masks.groupby(["dtype", _ndim(masks)]).size().rename("masks").to_frame()


def rules_applied(masks: pd.DataFrame) -> pd.DataFrame:
    """How many mask files needed each normalisation rule, with the rule's meaning."""
    text = masks["notes"].fillna("")
    if text.empty:
        notes = text.str.split(";").explode()
    else:  # each distinct text split once, its rules repeated row by row in table order
        code, distinct = pd.factorize(text)
        parts = [str(t).split(";") for t in distinct]
        per_text = np.array([len(p) for p in parts])
        flat = np.array([rule for p in parts for rule in p], dtype=object)
        per_row = per_text[code]
        row_start = np.repeat(np.cumsum(per_row) - per_row, per_row)
        at = np.repeat((np.cumsum(per_text) - per_text)[code], per_row)
        notes = pd.Series(flat[at + np.arange(per_row.sum()) - row_start], dtype="str")
    counts = notes[notes != ""].value_counts()
    return pd.DataFrame({"masks": counts.astype(int),
                         "meaning": [RULES.get(k, "") for k in counts.index]}).rename_axis("rule")


def instances_per_mask(masks: pd.DataFrame) -> pd.DataFrame:
    """How many masks have 1, 2, 3, ... instances, with their share."""
    usable = masks[masks["status"].isin(MASK_MEASURED)]
    counts = usable["n_instances"].value_counts().sort_index()
    return pd.DataFrame({"masks": counts, "share": (counts / counts.sum()).round(4)}).rename_axis(
        "instances")


def quantiles(series: pd.Series, qs=(0.05, 0.25, 0.5, 0.75, 0.95)) -> pd.Series:
    """Named quantiles of a numeric series, NaN dropped."""
    s = pd.to_numeric(series, errors="coerce").dropna()
    out = {"count": float(len(s)), "mean": s.mean() if len(s) else np.nan}
    out.update({f"p{int(q * 100)}": (s.quantile(q) if len(s) else np.nan) for q in qs})
    return pd.Series(out, dtype=float)


def union_area_summary(masks: pd.DataFrame) -> pd.DataFrame:
    """Quantiles of the union area, in pixels and as a fraction of H*W."""
    usable = masks[masks["status"].isin(MASK_MEASURED)]
    return pd.DataFrame({
        "union_px": quantiles(usable["union_px"]),
        "union_frac": quantiles(usable["union_frac"]),
    })


def instance_summary(instances: pd.DataFrame) -> pd.DataFrame:
    """Quantiles of each instance measurement."""
    cols = ["area_px", "area_frac", "bbox_w", "bbox_h", "aspect", "bbox_fill",
            "n_components", "compactness"]
    return pd.DataFrame({c: quantiles(instances[c]) for c in cols})


def components_per_instance(instances: pd.DataFrame) -> pd.DataFrame:
    """How many instances have 1, 2, 3+ connected components.

    Two components usually mean the channel marks the source and its copy.
    """
    n = instances["n_components"].clip(upper=3).map({0: "0 (empty)", 1: "1", 2: "2", 3: "3+"})
    counts = n.value_counts().sort_index()
    return pd.DataFrame({"instances": counts, "share": (counts / counts.sum()).round(4)}).rename_axis(
        "components")


def copy_move_overview(cm: pd.DataFrame) -> pd.DataFrame:
    """Instances per method and verdict, with totals."""
    return pd.crosstab(cm["method"], cm["verdict"], margins=True, margins_name="total")


def transform_counts(cm: pd.DataFrame) -> pd.DataFrame:
    """How often each flip/rotation was recovered, by verdict."""
    df = cm.dropna(subset=["transform"])
    table = pd.crosstab(df["transform"], df["verdict"])
    table["total"] = table.sum(axis=1)
    return table.sort_values("total", ascending=False, kind="stable")


def confirmed_copies(cm: pd.DataFrame) -> pd.DataFrame:
    """The rows of the ``copy_move`` table whose verdict is ``copy``."""
    return cm[cm["verdict"] == "copy"]


def copy_distances(cm: pd.DataFrame, images: pd.DataFrame) -> pd.DataFrame:
    """Offset length of each resolved copy, in pixels and as a share of the image diagonal."""
    forged = images[images["label"] == "forged"][["split", "case_id", "width", "height"]]
    df = cm.dropna(subset=["dx", "dy"]).merge(forged, on=["split", "case_id"], how="left")
    distance = np.hypot(df["dx"].astype(float), df["dy"].astype(float))
    diagonal = np.hypot(df["width"].astype(float), df["height"].astype(float))
    return df.assign(distance_px=distance, distance_frac=distance / diagonal)


def distance_quantiles(distances: pd.DataFrame) -> pd.DataFrame:
    """:func:`quantiles` of the copy offsets, in pixels and as a share of the diagonal.

    Parameters
    ----------
    distances : pandas.DataFrame
        The output of :func:`copy_distances`.

    Returns
    -------
    pandas.DataFrame
        Index as :func:`quantiles`; columns ``distance (px)`` and ``share of the diagonal``.
    """
    return pd.DataFrame({
        "distance (px)": quantiles(distances["distance_px"]),
        "share of the diagonal": quantiles(distances["distance_frac"]),
    })


def source_marking(instances: pd.DataFrame, label_check: pd.DataFrame) -> pd.DataFrame:
    """How often masks mark the source region as well as the copy.

    Two views: instances with two or more connected components (any image), and,
    for images with a twin, marked components that did not change (sources).
    """
    with_twin = len(label_check)
    rows = [
        ("instances with >= 2 components", int((instances["n_components"] >= 2).sum()),
         len(instances)),
        ("twin images whose mask marks a source", int((label_check["n_sources"] > 0).sum()),
         with_twin),
        ("twin images whose mask marks only copies",
         int(((label_check["n_sources"] == 0) & (label_check["n_targets"] > 0)).sum()), with_twin),
    ]
    out = pd.DataFrame(rows, columns=["what", "count", "of"])
    return out.assign(share=(out["count"] / out["of"].where(out["of"] > 0)).round(4))


def label_quality(label_check: pd.DataFrame) -> pd.DataFrame:
    """Label-quality checks against the twin: edits the mask misses, marks that changed nothing."""
    lc = label_check
    rows = [
        ("images checked against their twin", len(lc), ""),
        ("images with changed pixels outside the mask", int((lc["changed_outside_mask_px"] > 0).sum()),
         "an edit the mask does not mark (or recompression noise)"),
        ("changed pixels outside any mask", int(lc["changed_outside_mask_px"].sum()),
         f"of {int(lc['changed_px'].sum())} changed pixels"),
        ("images with no changed pixel at all", int((lc["changed_px"] == 0).sum()),
         "no pixel differs from the twin by more than the noise tolerance"),
        ("marked pixels that did not change", int(lc["marked_unchanged_px"].sum()),
         f"of {int(lc['marked_px'].sum())} marked pixels: sources, or masks drawn wide"),
    ]
    return pd.DataFrame(rows, columns=["check", "count", "meaning"])


def group_summary(groups: pd.DataFrame) -> pd.DataFrame:
    """Leakage groups: how many, how large, and what joined them."""
    sizes = groups.groupby("group")["group_size"].first()
    multi_case = groups.groupby("group")["case_id"].nunique()
    rows = [
        ("images grouped", len(groups), "labelled images (test images are not split)"),
        ("groups", len(sizes), "units that folds must keep whole"),
        ("groups of one image", int((sizes == 1).sum()), "no twin, no duplicate"),
        ("largest group", int(sizes.max()) if len(sizes) else 0, "images"),
        ("groups joined by twins", int(groups[groups["reason"].str.contains("twin")]["group"].nunique()),
         "authentic and forged share a case_id"),
        ("groups spanning several case_ids", int((multi_case > 1).sum()),
         "the same figure under different case_ids: a random split would leak it"),
    ]
    return pd.DataFrame(rows, columns=["check", "count", "meaning"])


def cross_case_images(groups: pd.DataFrame, n: int = 20) -> pd.DataFrame:
    """The first ``n`` images of the groups that join several case_ids.

    Parameters
    ----------
    groups : pandas.DataFrame
        The ``groups`` table (one row per labelled image, with its ``group``).
    n : int
        Rows shown.

    Returns
    -------
    pandas.DataFrame
        Rows of ``groups``, sorted by group, split, case_id and label.
    """
    multi = groups[groups.groupby("group")["case_id"].transform("nunique") > 1]
    return multi.sort_values(["group", "split", "case_id", "label"]).head(n)


def groups_split_across_folds(folds: pd.DataFrame) -> int:
    """How many leakage groups have images in more than one fold (0 for sound folds)."""
    return int((folds.groupby("group")["fold"].nunique() > 1).sum())


def baseline_scores(images: pd.DataFrame, masks: pd.DataFrame) -> pd.DataFrame:
    """The competition score of simple baselines on the labelled training images.

    - all authentic: every image predicted ``authentic``;
    - blind screen: the ``copy`` pairs of the screen (no mask or twin used), each one
      instance; an image it could not score counts as 0 (empty without screening);
    - oracle label + union: authentic images right, each forged image predicted as
      one instance, the union of its true instances (the cost of merging instances);
    - masks themselves: the true masks, through the RLE codec (the ceiling, 1.0 when
      every mask round-trips).
    """
    train = images[(images["split"] == "train") & images["label"].isin(["authentic", "forged"])]
    forged = train[train["label"] == "forged"].merge(
        masks[["split", "case_id", "of1_union", "rle_roundtrip", "union_px"]],
        on=["split", "case_id"], how="left")
    n, n_auth = len(train), int((train["label"] == "authentic").sum())
    # a forged image without a usable mask cannot be scored: it counts as wrong
    union = forged["of1_union"].fillna(0).sum()
    exact = (forged["rle_roundtrip"].fillna(False).astype(bool) & (forged["union_px"] > 0)).sum()
    screened = train["screen_of1"].notna().any() if "screen_of1" in train else False
    screen = train["screen_of1"].astype("float64").fillna(0.0).sum() if screened else np.nan
    rows = [
        ("all authentic", n_auth / n if n else np.nan),
        ("blind screen (python -m eda_lib baseline)", screen / n if n else np.nan),
        ("oracle label + union as one instance", (n_auth + union) / n if n else np.nan),
        ("masks themselves (via RLE)", (n_auth + exact) / n if n else np.nan),
    ]
    return pd.DataFrame(rows, columns=["baseline", "oF1"]).assign(images=n)


def _flag_columns(health: pd.DataFrame) -> dict[str, str]:
    """``is_<issue>_issue`` column -> issue, for each issue of
    :data:`~eda_lib.measure.health.ISSUES` that ``health`` flags, in that order."""
    columns = {f"is_{issue}_issue": issue for issue in ISSUES}
    return {c: issue for c, issue in columns.items() if c in health.columns}


def health_counts(health: pd.DataFrame) -> pd.DataFrame:
    """Images flagged for each health issue, by label (test images as "(test)", a flat
    folder's images as "(unlabelled)": see :func:`shown_labels`).

    Parameters
    ----------
    health : pandas.DataFrame
        The ``health`` table: ``label`` and the ``is_<issue>_issue`` flags.

    Returns
    -------
    pandas.DataFrame
        One row per issue (index ``issue``, in the order of
        :data:`~eda_lib.measure.health.ISSUES`), one column per label, and ``total``.
    """
    flags = _flag_columns(health)
    label = shown_labels(health)
    table = health[list(flags)].fillna(False).astype(bool).groupby(label).sum().T
    table.index = list(flags.values())
    table["total"] = table.sum(axis=1)
    return table.rename_axis("issue")


def flag_totals(health: pd.DataFrame) -> pd.Series:
    """Images flagged for each health issue (missing flags count as not flagged).

    Returns
    -------
    pandas.Series
        Issue -> count (int), in the order of :data:`~eda_lib.measure.health.ISSUES`.
    """
    flags = _flag_columns(health)
    counts = health[list(flags)].fillna(False).astype(bool).sum().astype(int)
    return counts.set_axis(list(flags.values())).rename_axis("issue").rename("images")


def flagged_issues(health: pd.DataFrame) -> pd.DataFrame:
    """One row per flag raised: the image's ``label`` and the ``issue``.

    Issues come in the order of :data:`~eda_lib.measure.health.ISSUES`, images in table
    order within each; missing flags are not raised.
    """
    flags = _flag_columns(health)
    if not flags or health.empty:
        long = health.melt(id_vars=["label"], value_vars=list(flags), var_name="issue",
                           value_name="flagged")
        long = long[long["flagged"].fillna(False).astype(bool)]
        return long.assign(issue=long["issue"].map(flags))[["label", "issue"]]
    # the flagged rows of each flag column, indexed as in the long table
    # ``health.melt(id_vars=["label"], value_vars=flags)``, without making it
    rows = [np.flatnonzero(health[column].fillna(False).astype(bool).to_numpy())
            for column in flags]
    at = np.concatenate(rows)
    index = np.concatenate([j * len(health) + r for j, r in enumerate(rows)])
    issue = np.repeat(np.array(list(flags.values()), dtype=object), [len(r) for r in rows])
    return pd.DataFrame({"label": health["label"].iloc[at].array, "issue": issue},
                        index=pd.Index(index))


def issues_found(health: pd.DataFrame) -> list[str]:
    """The issues flagged on at least one image, in the order of
    :data:`~eda_lib.measure.health.ISSUES`."""
    totals = flag_totals(health)
    return list(totals.index[totals > 0])


def worst(health: pd.DataFrame, issue: str, n: int) -> pd.DataFrame:
    """The ``n`` flagged images with the lowest score for ``issue`` (lowest = worst)."""
    flagged = health[health[f"is_{issue}_issue"].fillna(False).astype(bool)]
    return flagged.nsmallest(n, f"{issue}_score")


def readable_authentic(images: pd.DataFrame) -> pd.DataFrame:
    """Authentic images that decoded (status ``ok``)."""
    return images[(images["label"] == "authentic") & (images["status"] == "ok")]


def measurable_forged(t) -> pd.DataFrame:
    """Forged images whose image decoded and whose mask was usable."""
    return _measurable_forged(t, list(t.images.columns), ["n_instances"])


def n_measurable_forged(t) -> int:
    """``len(measurable_forged(t))``, from the key columns only (no row of ``images`` is
    copied)."""
    return len(_measurable_forged(t, ["split", "case_id"], []))


def _measurable_forged(t, image_columns: list[str], mask_columns: list[str]) -> pd.DataFrame:
    """The ``image_columns`` of each measurable forged image joined with the
    ``mask_columns`` of its usable mask (keyed by split and case_id)."""
    img, masks, keys = t.images, t.masks, ["split", "case_id"]
    forged = img.loc[(img["label"] == "forged") & img["has_mask"] & (img["status"] == "ok"),
                     image_columns]
    usable = masks.loc[masks["status"].isin(["ok", "normalized"]), keys + mask_columns]
    return forged.merge(usable, on=keys, how="inner")


# ------------------------------------------------------------------ blind screen


#: Bins of the recovery tables: copied area (share of the image) and image size (pixels).
AREA_BINS = (0.0, 0.005, 0.01, 0.02, 0.05, 0.1, 1.0)
SIZE_BINS = (0, 250_000, 500_000, 1_000_000, 2_000_000, 5_000_000, np.inf)


def screen_status(images: pd.DataFrame) -> pd.DataFrame:
    """Images per split and screen status (screened, too_small, too_flat, failed, off),
    with the reasons an image was not screened."""
    img = images.dropna(subset=["screen_status"])
    table = pd.crosstab(img["split"], img["screen_status"])
    return table.reindex([s for s in SPLITS if s in table.index] +
                         [s for s in table.index if s not in SPLITS])


def screen_overview(images: pd.DataFrame, screening: pd.DataFrame) -> pd.DataFrame:
    """Per split and label: images screened, images with a ``copy`` pair (flagged), and
    candidate pairs by verdict."""
    img = images[images["screen_status"] == "screened"]
    keys = ["split", "label"]
    out = img.groupby(keys).size().rename("screened").to_frame()
    out["flagged"] = img[img["screen_copies"] > 0].groupby(keys).size()
    verdicts = screening.groupby(keys + ["verdict"]).size().unstack("verdict")
    out = out.join(verdicts.reindex(columns=["copy", "unsure", "rejected"]), how="left")
    out = out.fillna(0).astype("int64")
    out["flagged share"] = out["flagged"] / out["screened"]
    out = out.reset_index()
    return out.assign(label=shown_labels(out))


def screen_controls(screening: pd.DataFrame) -> pd.DataFrame:
    """Candidate pairs each reason kept from ``copy``: the false-positive controls
    (verdict ``rejected``) and the doubts (``unsure``), most frequent first."""
    held = screening[screening["verdict"] != "copy"]
    image = held["split"].astype(str) + "/" + held["label"].astype(str) + "/" + held["case_id"]
    out = held.assign(_image=image).groupby(["verdict", "reason"]).agg(
        pairs=("pair", "size"), images=("_image", "nunique"))  # an image and its twin: two
    return out.sort_values("pairs", ascending=False).reset_index()


def screen_recovery(cm: pd.DataFrame, images: pd.DataFrame, by: str) -> pd.DataFrame:
    """Share of the labelled copy-move pairs the blind screen found, by ``by``.

    ``by`` is ``"transform"``, ``"scale"`` (1, shrunk, enlarged), ``"area"`` (target box
    over the image, :data:`AREA_BINS`) or ``"image size"`` (:data:`SIZE_BINS`). Pairs
    with ``screen_found`` empty (no source box, screening off) are left out.
    """
    rows = cm.dropna(subset=["screen_found"]).merge(
        images[images["label"] == "forged"][["split", "case_id", "width", "height"]],
        on=["split", "case_id"], how="left")
    pixels = (rows["width"] * rows["height"]).astype("float64")
    if by == "transform":
        key = rows["transform"]
    elif by == "scale":
        key = pd.Series(np.select([rows["scale"] < 0.97, rows["scale"] > 1.03],
                                  ["shrunk (< 0.97)", "enlarged (> 1.03)"], "same size"),
                        index=rows.index)
    elif by == "area":
        box = ((rows["target_x2"] - rows["target_x1"] + 1)
               * (rows["target_y2"] - rows["target_y1"] + 1)).astype("float64")
        key = pd.cut(box / pixels, AREA_BINS)
    elif by == "image size":
        key = pd.cut(pixels, SIZE_BINS)
    else:
        raise ValueError(f"by must be transform, scale, area or image size, got {by!r}")
    found = rows["screen_found"].astype(bool)
    out = found.groupby(key, observed=True).agg(pairs="size", found="sum")
    out["found share"] = out["found"] / out["pairs"]
    return out.rename_axis(by).reset_index()


def screen_by_fold(images: pd.DataFrame, folds: pd.DataFrame) -> pd.DataFrame:
    """The blind screen's oF1 as a submission, per grouped fold of the training images,
    beside the all-authentic floor of the same images; a last row for all folds.

    An image whose screen could not score (no usable mask) counts as 0, as a forged
    image without a mask does in :func:`baseline_scores`. The numbers are those of
    ``python -m eda_lib baseline --split train --fold K`` scored by ``score``. Without
    screening (no image has a screen score) the screen's column is empty, as in
    :func:`baseline_scores`.
    """
    train = _labelled(images[images["split"] == "train"]).merge(
        folds[["split", "label", "case_id", "fold"]], on=["split", "label", "case_id"]
    ).sort_values("fold", kind="stable")
    score = train["screen_of1"].astype("float64")
    score = score.fillna(0.0) if score.notna().any() else score
    authentic = (train["label"] == "authentic").astype("float64")
    frame = pd.DataFrame({"fold": train["fold"].astype("string"), "screen": score,
                          "authentic": authentic})
    whole = frame.assign(fold="all")
    both = pd.concat([frame, whole], ignore_index=True)
    out = both.groupby("fold", sort=False).agg(
        images=("screen", "size"), blind_screen=("screen", "mean"),
        all_authentic=("authentic", "mean"))
    return out.rename(columns={"blind_screen": "oF1 blind screen",
                               "all_authentic": "oF1 all authentic"}).reset_index()


def screen_flagged(screening: pd.DataFrame, label: str | None = None,
                   splits: tuple[str, ...] = SPLITS) -> pd.DataFrame:
    """``copy`` pairs of the images with ``label`` (None: any) in ``splits``, strongest
    first (by ``ncc``, then ``residual_ncc``): the rows the report draws."""
    rows = screening[(screening["verdict"] == "copy") & screening["split"].isin(splits)]
    if label is not None:
        rows = rows[rows["label"] == label]
    return rows.sort_values(["ncc", "residual_ncc"], ascending=False, kind="stable")
