"""The analyst summary: every statement computed from the tables.

:func:`findings` turns the tables into short statements, each carrying the numbers
it rests on; :func:`recommendations` fires a rule only when its measured condition
holds, and says which number triggered it. :func:`to_markdown` renders both. No
sentence about the data is written here without a number behind it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from ..dataset.index import FLAT_SPLIT
from ..tables import MASK_MEASURED
from .stats import counted, described_images, flag_totals, is_flat_folder, n_measurable_forged


@dataclass(frozen=True)
class Finding:
    topic: str
    text: str


@dataclass(frozen=True)
class Recommendation:
    topic: str
    text: str
    because: str


#: How the statement of a section that does not apply to the data begins (printed at the
#: top of its notebook by :func:`eda_lib.report.session.start`).
NOT_APPLICABLE = "This section does not apply to this dataset"

#: How the statement begins where the rest of a section does not apply to the data, say
#: the parts of section 10 that judge the screen against the labels (printed by
#: :meth:`eda_lib.report.session.Session.rest_needs`).
REST_NOT_APPLICABLE = "The rest of this section does not apply to this dataset"

#: What each section of the report needs from the data, by section number; a section
#: not listed (1, 2, 7, 11...) applies to every dataset. Sections 6 and 10 also need an
#: analysis a run can switch off (``copy_move: false``, ``screening: false``).
SECTION_NEEDS: dict[str, str] = {
    "03": "masks", "04": "instances", "05": "forged_with_mask", "06": "copy_moved",
    "08": "labels", "09": "masks", "10": "screened",
}

#: Each need of :data:`SECTION_NEEDS` in words, as the statement of a section that lacks it
#: says it.
NEEDS: dict[str, str] = {
    "labels": "images labelled authentic or forged (train_images/authentic/, "
              "train_images/forged/) to group into folds",
    "masks": "mask files of forged images (train_masks/<case_id>.npy)",
    "instances": "forged regions read from mask files (train_masks/<case_id>.npy)",
    "forged_with_mask": "forged images with a usable mask (train_images/forged/ and "
                        "train_masks/)",
    "copy_moved": "forged regions read from mask files (train_masks/<case_id>.npy) and "
                  "their copy-move analysis (parameter copy_move)",
    "screened": "the blind screen's results (parameter screening)",
    "screen_labels": "images labelled authentic or forged (train_images/authentic/, "
                     "train_images/forged/) to judge the screen's findings against",
}


def _lacks(t, need: str) -> str:
    """Why the tables ``t`` lack ``need`` (a key of :data:`NEEDS`), or "" when they hold it."""
    img = t.images
    if need == "screened":  # a choice of the run, whatever the data
        # unreadable images have no status: "off" is every status there is
        off = "screen_status" in img and set(img["screen_status"].dropna()) == {"off"}
        return "this run had screening: false" if off else ""
    if need == "copy_moved":  # every instance has a copy_move row when the analysis ran
        why = _lacks(t, "instances")
        if why or len(t.copy_move):
            return why
        if t.problems["kind"].eq("copy_move_failed").any():
            return "the copy-move analysis failed on every image (tables/problems.csv says why)"
        return "this run had copy_move: false"
    labelled = img["label"].isin(["authentic", "forged"]).any()
    held = {
        "labels": lambda: labelled,
        "screen_labels": lambda: labelled,
        "masks": lambda: len(t.masks) > 0,
        "instances": lambda: len(t.instances) > 0,
        "forged_with_mask": lambda: n_measurable_forged(t) > 0,
    }
    if held[need]():
        return ""
    if is_flat_folder(img):
        return (f"this dataset is a flat folder of {len(img):,} unlabelled "
                f"{'image' if len(img) == 1 else 'images'}: no label, mask or twin")
    if need in ("labels", "screen_labels"):
        return "no image of this dataset is labelled authentic or forged"
    if not img["label"].eq("forged").any() and not len(t.masks):
        return "no image of this dataset is labelled forged and no mask file was found"
    if not len(t.masks):
        return "no mask file was found"
    if need == "instances":
        return ("no mask could be read with a marked pixel (section 3 and tables/problems.csv "
                "say why)")
    return "no forged image has both a readable image and a usable mask"


def section_gap(t, section: str) -> str:
    """Why section ``section`` (``"03"``) does not apply to the data of ``t``, or "".

    Parameters
    ----------
    t : Tables
        The run's tables (``images``, ``masks``, ``instances`` are read).
    section : str
        The section's number, as its notebook's name starts (``"03"`` for ``03_masks``).

    Returns
    -------
    str
        ``"it needs <what>, and <why the data has none>"`` when the section needs what
        the data lacks (:data:`SECTION_NEEDS`), else "".

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> flat = SimpleNamespace(images=pd.DataFrame({"split": ["unlabelled"], "label": [""]}),
    ...                        masks=pd.DataFrame(), instances=pd.DataFrame())
    >>> section_gap(flat, "03")[:40]
    'it needs mask files of forged images (tr'
    >>> section_gap(flat, "07")
    ''
    """
    need = SECTION_NEEDS.get(section)
    return need_gap(t, need) if need else ""


def need_gap(t, need: str) -> str:
    """Why the data of ``t`` lacks ``need`` (a key of :data:`NEEDS`) in the words of a
    statement, ``"it needs <what>, and <why the data has none>"``, or "" when it holds it.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> flat = SimpleNamespace(images=pd.DataFrame({"split": ["unlabelled"], "label": [""]}),
    ...                        masks=pd.DataFrame(), instances=pd.DataFrame())
    >>> need_gap(flat, "screen_labels")[-59:]
    'a flat folder of 1 unlabelled image: no label, mask or twin'
    """
    why = _lacks(t, need)
    return f"it needs {NEEDS[need]}, and {why}" if why else ""


def section_gaps(t) -> dict[str, str]:
    """:func:`section_gap` of every section that does not apply to the data of ``t``,
    keyed by section number in order (empty when every section applies)."""
    gaps = {section: section_gap(t, section) for section in SECTION_NEEDS}
    return {section: gap for section, gap in sorted(gaps.items()) if gap}


def duplicates_note(t) -> str:
    """What the duplicate sets of section 7 mean for the data of ``t``, with their counts.

    Twins are near duplicates by construction; a dataset without them (a flat folder of
    images, test images only) expects no duplicate at all, so there every set is worth a
    look.

    Parameters
    ----------
    t : Tables
        The run's tables (``images`` and ``health`` are read).

    Returns
    -------
    str
        Markdown: the twins' sentence when some forged image has its twin; on a flat
        folder, what an exact and a near duplicate set are there; else that no duplicate
        is expected. Each ends with how many images are in exact and near duplicate sets.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> flat = SimpleNamespace(
    ...     images=pd.DataFrame({"split": ["unlabelled"] * 3, "label": [""] * 3,
    ...                          "twin": [False] * 3}),
    ...     health=pd.DataFrame({"is_exact_duplicates_issue": [True, True, False],
    ...                          "is_near_duplicates_issue": [True, True, False]}),
    ...     masks=pd.DataFrame(), instances=pd.DataFrame())
    >>> duplicates_note(flat)[:66]
    'This is a flat folder of 3 unlabelled images, with no twins: none '
    >>> duplicates_note(flat).split(". Here ")[1][:66]
    '2 images are in exact-duplicate sets and 2 in near-duplicate sets:'
    """
    img = t.images
    flags = flag_totals(t.health)
    exact, near = int(flags.get("exact_duplicates", 0)), int(flags.get("near_duplicates", 0))
    found = (f"{counted(exact, 'image is', 'images are')} in exact-duplicate sets and {near} in "
             "near-duplicate sets.")
    look = (" look at every set (the worst are drawn below; all are flagged in "
            "`tables/health.csv`, columns `is_exact_duplicates_issue` and "
            "`is_near_duplicates_issue`).")
    twins = int((img["label"].eq("forged") & img["twin"].astype(bool)).sum())
    if twins:
        return ("Twins are near duplicates by construction (the forgery changes a few percent "
                f"of the pixels; {counted(twins, 'forged image has its', 'forged images have their')} "
                "twin here), so near-duplicate sets are expected here; duplicates *across* "
                "case_ids are the ones that leak between folds (section 8). Here " + found)
    if is_flat_folder(img):
        return (f"This is a flat folder of {counted(len(img), 'unlabelled image', 'unlabelled images')}, "
                "with no twins: none of its images is expected to repeat another. An "
                "exact-duplicate set is one picture stored in several files; a near-duplicate "
                "set is pictures that look the same at a glance (saved again, resized, "
                "recompressed, or edited in a small region). In a folder of figures either "
                "can be one image reused where different images belong, which is what an "
                "integrity check looks for. Here " + (found[:-1] + ":" + look if exact or near
                                                      else found))
    leak = ("; every set joins images of different case_ids, which leak between folds unless "
            "grouped (section 8)" if not _lacks(t, "labels") else "")
    return ("No forged image here has its authentic twin, so no duplicate set is expected"
            f"{leak}. Here " + found)


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _sig(x: float, figures: int = 3) -> str:
    """``x`` to ``figures`` significant figures, in plain notation, without trailing zeros.

    Extreme ratios keep their digits, where a fixed number of decimals would round
    them away.

    Examples
    --------
    >>> [_sig(x) for x in (1 / 400, 1.3333, 400.0, 1.0, 12345.6)]
    ['0.0025', '1.33', '400', '1', '12,300']
    """
    if not x or not math.isfinite(x):
        return f"{x:g}"
    places = figures - 1 - math.floor(math.log10(abs(x)))  # negative: rounds to tens...
    text = f"{round(x, places):,.{max(0, places)}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


#: Below this many pixels an image's size is given in pixels, not megapixels.
_PIXELS_BELOW = 10_000


def _size(mp: float) -> str:
    """An image size of ``mp`` megapixels in words: in pixels when it is tiny.

    Examples
    --------
    >>> [_size(x) for x in (1e-6, 0.0025, 0.04, 0.2284, 12.0)]
    ['1 pixel', '2,500 pixels', '0.04 MP', '0.228 MP', '12 MP']
    """
    pixels = round(mp * 1e6)
    if pixels < _PIXELS_BELOW:
        return f"{pixels:,} {'pixel' if pixels == 1 else 'pixels'}"
    return f"{_sig(mp)} MP"


#: The columns of ``images`` the summary reads (the others are never copied).
_IMAGE_COLUMNS = ("split", "label", "has_mask", "twin", "status", "width", "height", "mode",
                  "aspect", "screen_status", "screen_copies", "screen_of1")


def _facts(t) -> dict:
    """The numbers the summary quotes, in one dict (also handy for tests)."""
    img = t.images[[c for c in _IMAGE_COLUMNS if c in t.images]]
    masks, inst = t.masks, t.instances
    labelled = img[img["label"].isin(["authentic", "forged"])]
    forged = labelled[labelled["label"] == "forged"]
    usable = masks[masks["status"].isin(MASK_MEASURED)]
    described = described_images(img)  # the labelled images, else a flat folder's
    ok = described[described["status"] == "ok"]
    mp = ok["width"] * ok["height"] / 1e6
    # the 5th percentile of the union areas as a mask's own size (nan without masks)
    union_p5 = (float(usable["union_px"].quantile(0.05, interpolation="higher"))
                if len(usable) else float("nan"))
    return {
        "n_images": len(img),
        "n_authentic": int((labelled["label"] == "authentic").sum()),
        "n_forged": len(forged),
        "n_test": int((img["split"] == "test").sum()),
        "n_unlabelled": int((img["split"] == FLAT_SPLIT).sum()),
        "n_with_mask": int(forged["has_mask"].sum()),
        "n_measured": n_measurable_forged(t),
        "n_twins": int(forged["twin"].sum()),
        "modes": ok["mode"].value_counts(normalize=True).to_dict(),
        # what the mode, size and aspect figures describe (test images are left out)
        "described": ("the labelled images" if len(labelled) else "the images")
                     + (f" ({len(ok)} of {len(described)} readable)"
                        if len(ok) != len(described) else ""),
        "mp_min": float(mp.min()) if len(mp) else float("nan"),
        "mp_median": float(mp.median()) if len(mp) else float("nan"),
        "mp_max": float(mp.max()) if len(mp) else float("nan"),
        "aspect_min": float(ok["aspect"].min()) if len(ok) else float("nan"),
        "aspect_max": float(ok["aspect"].max()) if len(ok) else float("nan"),
        "n_masks": len(usable),
        "mean_instances": float(usable["n_instances"].mean()) if len(usable) else float("nan"),
        "multi_instance_share": float((usable["n_instances"] > 1).mean()) if len(usable) else 0.0,
        "union_frac_median": float(usable["union_frac"].median()) if len(usable) else float("nan"),
        "union_frac_p95": float(usable["union_frac"].quantile(0.95)) if len(usable) else float("nan"),
        "union_px_p5": union_p5,  # and the share of masks below it
        "union_px_below_p5": (float((usable["union_px"] < union_p5).mean())
                              if len(usable) else float("nan")),
        "n_instances": len(inst),
        "two_component_share": float((inst["n_components"] >= 2).mean()) if len(inst) else 0.0,
        "compactness_median": float(inst["compactness"].median()) if len(inst) else float("nan"),
        "problems": t.problems["kind"].value_counts().to_dict(),
        **_copy_move_facts(t.copy_move, t.label_check),
        **_screen_facts(img, t.screening, t.copy_move),
        "health_flags": flag_totals(t.health).to_dict(),
        "cross_case_groups": int((t.groups.groupby("group")["case_id"].nunique() > 1).sum()),
    }


def _copy_move_facts(cm: pd.DataFrame, lc: pd.DataFrame) -> dict:
    copies = cm[cm["verdict"] == "copy"]
    transforms = copies["transform"].value_counts(normalize=True)
    return {
        "cm_instances": len(cm),
        "cm_copies": len(copies),
        "cm_undecidable": int((cm["verdict"] == "undecidable").sum()),
        "cm_top_transform": (transforms.index[0], float(transforms.iloc[0])) if len(transforms)
        else None,
        "cm_turned_share": float((copies["transform"] != "identity").mean()) if len(copies) else 0.0,
        "lc_images": len(lc),
        "lc_outside": int((lc["changed_outside_mask_px"] > 0).sum()) if len(lc) else 0,
    }


def _screen_facts(img: pd.DataFrame, screening: pd.DataFrame, cm: pd.DataFrame) -> dict:
    screened = img[img["screen_status"] == "screened"]
    flagged = screened[screened["screen_copies"] > 0]
    compared = cm["screen_found"].dropna()
    train = img[(img["split"] == "train") & img["label"].isin(["authentic", "forged"])]
    return {
        "sc_screened": len(screened),
        "sc_flagged": len(flagged),
        "sc_by_label": flagged["label"].replace("", "unlabelled").value_counts().to_dict(),
        "sc_authentic_flagged": int((flagged["label"] == "authentic").sum()),
        "sc_pairs_compared": len(compared),
        "sc_pairs_found": int(compared.astype(bool).sum()),
        "sc_of1": float(train["screen_of1"].astype("float64").fillna(0).mean())
        if len(train) and train["screen_of1"].notna().any() else float("nan"),
        "sc_rejected": screening.loc[screening["verdict"] == "rejected", "reason"]
        .value_counts().to_dict(),
    }


def findings(t) -> list[Finding]:
    """Statements about the data, each built from the tables."""
    return _findings(t, _facts(t))


def _findings(t, f: dict) -> list[Finding]:
    """:func:`findings`, from the tables ``t`` and their :func:`_facts` ``f``."""
    out = [
        Finding("balance", f"{f['n_images']} images: {f['n_authentic']} authentic, "
                f"{f['n_forged']} forged, {f['n_test']} test"
                + (f", {f['n_unlabelled']} unlabelled (a flat folder of images)."
                   if f["n_unlabelled"] else ".")),
    ]
    gaps = section_gaps(t)
    if gaps:  # the same reason is given once
        why = "; ".join(dict.fromkeys(_lacks(t, SECTION_NEEDS[section]) for section in gaps))
        which = (f"Section {int(next(iter(gaps)))} does not" if len(gaps) == 1 else
                 f"Sections {', '.join(str(int(s)) for s in gaps)} do not")
        out.append(Finding("sections", f"{which} apply to this dataset ({why}); each says at "
                           "its top what it needs."))
    if f["n_forged"]:  # a finding with nothing to say is left out
        out.append(Finding(
            "masks", f"{f['n_with_mask']} of {f['n_forged']} forged images have a mask; "
            f"{f['n_measured']} were measured (image and mask both usable)."))
        out.append(Finding(
            "twins", f"{counted(f['n_twins'], 'forged image has', 'forged images have')} their authentic "
            "original (twin); "
            f"{f['n_forged'] - f['n_twins']} do not."))
    if f["modes"]:
        modes = ", ".join(f"{m} {_pct(s)}" for m, s in sorted(f["modes"].items()))
        out.append(Finding("modes", f"Image modes of {f['described']}: {modes}."))
    if not math.isnan(f["mp_min"]):  # some image was decoded
        out.append(Finding(
            "geometry",
            f"Sizes of {f['described']} span {_size(f['mp_min'])} to {_size(f['mp_max'])} (median "
            f"{_size(f['mp_median'])}); aspect W/H from {_sig(f['aspect_min'])} to "
            f"{_sig(f['aspect_max'])}."))
    if f["n_masks"]:
        out.append(Finding(
            "instances",
            f"{f['mean_instances']:.2f} instances per mask on average; "
            f"{_pct(f['multi_instance_share'])} of masks have more than one."))
        out.append(Finding(
            "area",
            f"The forged union covers {_pct(f['union_frac_median'])} of the image at the median "
            f"and {_pct(f['union_frac_p95'])} at the 95th percentile; "
            f"{_pct(f['union_px_below_p5'])} of masks mark fewer than {f['union_px_p5']:.0f} "
            "pixels."))
    if f["n_instances"]:
        out.append(Finding(
            "shape",
            f"{_pct(f['two_component_share'])} of instances have two or more connected "
            f"components (source and copy marked together); median compactness "
            f"{f['compactness_median']:.2f}."))
    if f["cm_instances"]:
        text = (f"{f['cm_copies']} of {f['cm_instances']} instances were confirmed as copies of "
                f"another region; {f['cm_undecidable']} are too flat to decide.")
        if f["cm_top_transform"]:
            name, share = f["cm_top_transform"]
            text += (f" {_pct(f['cm_turned_share'])} of confirmed copies are flipped or rotated; "
                     f"the commonest transform is {name} ({_pct(share)}).")
        out.append(Finding("copy-move", text))
    if f["sc_screened"]:
        by = ", ".join(f"{k} {v}" for k, v in sorted(f["sc_by_label"].items()))
        text = (f"The blind screen (no mask, no twin) flagged {f['sc_flagged']} of "
                f"{f['sc_screened']} screened images" + (f" ({by})." if by else "."))
        if f["sc_pairs_compared"]:
            text += (f" It found {f['sc_pairs_found']} of the {f['sc_pairs_compared']} labelled "
                     "copy-move pairs.")
        if f["sc_of1"] == f["sc_of1"]:
            text += f" As a submission it scores oF1 {f['sc_of1']:.3f} on the training images."
        if f["sc_rejected"]:
            text += " Candidates rejected by its controls: " + ", ".join(
                f"{k} {v}" for k, v in sorted(f["sc_rejected"].items())) + "."
        out.append(Finding("blind screen", text))
    if f["lc_images"]:
        out.append(Finding(
            "label quality",
            f"{f['lc_outside']} of {f['lc_images']} forged images with a twin have changed "
            "pixels outside their mask."))
    flagged = {k: v for k, v in f["health_flags"].items() if v}
    if flagged:
        out.append(Finding("health", "Images flagged by the cleanvision checks: " + ", ".join(
            f"{k.replace('_', ' ')} {v}" for k, v in sorted(flagged.items())) + "."))
    if f["cross_case_groups"]:
        out.append(Finding("leakage", f"{f['cross_case_groups']} groups join images of different "
                           "case_ids (exact or near duplicates)."))
    if f["problems"]:
        kinds = ", ".join(f"{k} ({v})" for k, v in sorted(f["problems"].items()))
        out.append(Finding("problems", f"Files needing attention: {kinds}."))
    else:
        out.append(Finding("problems", "No file needed attention: 0 rows in the problems table."))
    return out


def recommendations(t) -> list[Recommendation]:
    """Advice for modelling, each given only when its measured trigger holds."""
    return _recommendations(_facts(t))


def _recommendations(f: dict) -> list[Recommendation]:
    """:func:`recommendations`, from the :func:`_facts` ``f`` of the tables."""
    out: list[Recommendation] = []
    if f["n_twins"] or f["cross_case_groups"]:
        out.append(Recommendation(
            "validation", "Split train/validation with the grouped folds of tables/folds.csv.",
            f"{f['n_twins']} authentic/forged twins share a case_id and "
            f"{f['cross_case_groups']} groups join duplicates across case_ids; a random "
            "split would leak them."))
    labelled = f["n_authentic"] + f["n_forged"]
    if labelled and not 0.4 <= f["n_forged"] / labelled <= 0.6:
        out.append(Recommendation(
            "sampling", "Rebalance classes when sampling batches.",
            f"forged images are {_pct(f['n_forged'] / labelled)} of labelled images."))
    if f["union_frac_median"] == f["union_frac_median"] and f["union_frac_median"] < 0.10:
        out.append(Recommendation(
            "loss", "Use a loss that copes with rare positives (Dice or focal with BCE) and "
                    "track pixel F1, not pixel accuracy.",
            f"forged pixels are {_pct(f['union_frac_median'])} of a forged image at the median."))
    if f["union_px_p5"] == f["union_px_p5"] and f["union_px_p5"] < 2000:
        out.append(Recommendation(
            "resolution", "Avoid strong downscaling; tile or crop large images instead.",
            f"{_pct(f['union_px_below_p5'])} of masks mark fewer than {f['union_px_p5']:.0f} "
            "pixels, which shrink to nothing at low resolution."))
    if f["mp_max"] / max(f["mp_min"], 1e-9) > 10 or f["aspect_max"] / max(f["aspect_min"], 1e-9) > 4:
        out.append(Recommendation(
            "input size", "Resize keeping the aspect ratio (pad or tile), never to a fixed square.",
            f"sizes span {_size(f['mp_min'])} to {_size(f['mp_max'])} and aspect "
            f"{_sig(f['aspect_min'])} to {_sig(f['aspect_max'])}."))
    if len(f["modes"]) > 1:
        out.append(Recommendation(
            "channels", "Convert every image to 3-channel RGB, dropping alpha, before training.",
            "modes present: " + ", ".join(sorted(f["modes"])) + "."))
    if f["multi_instance_share"] > 0.1:
        out.append(Recommendation(
            "instances", "Predict instances separately: the metric (oF1) matches predicted to "
                         "true instances, so one merged mask loses score.",
            f"{_pct(f['multi_instance_share'])} of masks have more than one instance."))
    if f["two_component_share"] > 0.3:
        out.append(Recommendation(
            "targets", "Train the model to mark the source region as well as the copy.",
            f"{_pct(f['two_component_share'])} of instances mark two or more components."))
    if f["cm_copies"] and f["cm_turned_share"] > 0.2:
        out.append(Recommendation(
            "augmentation", "Augment with the 8 flips and rotations, and match patches under "
                            "them (a detector looking for translated copies only misses many).",
            f"{_pct(f['cm_turned_share'])} of confirmed copies are flipped or rotated."))
    if f["lc_outside"]:
        out.append(Recommendation(
            "labels", "Inspect the images whose edits fall outside the mask before trusting "
                      "those masks as targets.",
            f"{counted(f['lc_outside'], 'twin pair differs', 'twin pairs differ')} outside the "
            "marked regions."))
    if f["sc_authentic_flagged"]:
        out.append(Recommendation(
            "authentic labels", "Look at the authentic images the blind screen flags (section "
                                "10) before training on them as negatives.",
            f"{counted(f['sc_authentic_flagged'], 'authentic image holds', 'authentic images hold')} "
            "a region duplicated elsewhere "
            "in the image: an unlabelled forgery or a natural repetition."))
    bad = {k: v for k, v in f["problems"].items() if k not in ("missing_mask",)}
    if bad:
        out.append(Recommendation(
            "data hygiene", "Review the problems table before training; exclude refused files.",
            ", ".join(f"{k}: {v}" for k, v in sorted(bad.items())) + "."))
    return out


def to_markdown(t) -> str:
    """Findings and recommendations as Markdown."""
    f = _facts(t)  # once for both
    lines = ["### Findings", ""]
    lines += [f"- **{x.topic}**: {x.text}" for x in _findings(t, f)]
    lines += ["", "### Recommendations", ""]
    recs = _recommendations(f)
    lines += [f"- **{r.topic}**: {r.text} _Why: {r.because}_" for r in recs] or [
        "- No rule fired: nothing in the tables calls for a change from defaults."]
    return "\n".join(lines)


def as_frame(t) -> pd.DataFrame:
    """Findings and recommendations as one tidy table (kind, topic, text, because)."""
    f = _facts(t)  # once for both
    rows = [("finding", x.topic, x.text, "") for x in _findings(t, f)]
    rows += [("recommendation", r.topic, r.text, r.because) for r in _recommendations(f)]
    return pd.DataFrame(rows, columns=["kind", "topic", "text", "because"])
