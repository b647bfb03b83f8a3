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

from ..tables import MASK_MEASURED
from .stats import flag_totals, measurable_forged


@dataclass(frozen=True)
class Finding:
    topic: str
    text: str


@dataclass(frozen=True)
class Recommendation:
    topic: str
    text: str
    because: str


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _facts(t) -> dict:
    """The numbers the summary quotes, in one dict (also handy for tests)."""
    img, masks, inst = t.images, t.masks, t.instances
    labelled = img[img["label"].isin(["authentic", "forged"])]
    forged = labelled[labelled["label"] == "forged"]
    usable = masks[masks["status"].isin(MASK_MEASURED)]
    ok = labelled[labelled["status"] == "ok"]
    mp = ok["width"] * ok["height"] / 1e6
    return {
        "n_images": len(img),
        "n_authentic": int((labelled["label"] == "authentic").sum()),
        "n_forged": len(forged),
        "n_test": int((img["split"] == "test").sum()),
        "n_with_mask": int(forged["has_mask"].sum()),
        "n_measured": len(measurable_forged(t)),
        "n_twins": int(forged["twin"].sum()),
        "modes": ok["mode"].value_counts(normalize=True).to_dict(),
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
        "union_px_p5": float(usable["union_px"].quantile(0.05)) if len(usable) else float("nan"),
        "n_instances": len(inst),
        "two_component_share": float((inst["n_components"] >= 2).mean()) if len(inst) else 0.0,
        "compactness_median": float(inst["compactness"].median()) if len(inst) else float("nan"),
        "problems": t.problems["kind"].value_counts().to_dict(),
        **_copy_move_facts(t.copy_move, t.label_check),
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


def findings(t) -> list[Finding]:
    """Statements about the data, each built from the tables."""
    f = _facts(t)
    out = [
        Finding("balance", f"{f['n_images']} images: {f['n_authentic']} authentic, "
                f"{f['n_forged']} forged, {f['n_test']} test."),
    ]
    if f["n_forged"]:  # a finding with nothing to say is left out
        out.append(Finding(
            "masks", f"{f['n_with_mask']} of {f['n_forged']} forged images have a mask; "
            f"{f['n_measured']} were measured (image and mask both usable)."))
        out.append(Finding(
            "twins", f"{f['n_twins']} forged images have their authentic original (twin); "
            f"{f['n_forged'] - f['n_twins']} do not."))
    if f["modes"]:
        modes = ", ".join(f"{m} {_pct(s)}" for m, s in sorted(f["modes"].items()))
        out.append(Finding("modes", f"Image modes: {modes}."))
    if not math.isnan(f["mp_min"]):  # some image was decoded
        out.append(Finding(
            "geometry",
            f"Sizes span {f['mp_min']:.3f} to {f['mp_max']:.2f} megapixels (median "
            f"{f['mp_median']:.2f}); aspect W/H from {f['aspect_min']:.2f} to "
            f"{f['aspect_max']:.2f}."))
    if f["n_masks"]:
        out.append(Finding(
            "instances",
            f"{f['mean_instances']:.2f} instances per mask on average; "
            f"{_pct(f['multi_instance_share'])} of masks have more than one."))
        out.append(Finding(
            "area",
            f"The forged union covers {_pct(f['union_frac_median'])} of the image at the median "
            f"and {_pct(f['union_frac_p95'])} at the 95th percentile; 5% of masks mark fewer "
            f"than {f['union_px_p5']:.0f} pixels."))
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
    f = _facts(t)
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
            f"5% of masks mark fewer than {f['union_px_p5']:.0f} pixels, which shrink to "
            "nothing at low resolution."))
    if f["mp_max"] / max(f["mp_min"], 1e-9) > 10 or f["aspect_max"] / max(f["aspect_min"], 1e-9) > 4:
        out.append(Recommendation(
            "input size", "Resize keeping the aspect ratio (pad or tile), never to a fixed square.",
            f"sizes span {f['mp_min']:.3f}-{f['mp_max']:.2f} MP and aspect "
            f"{f['aspect_min']:.2f}-{f['aspect_max']:.2f}."))
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
            f"{f['lc_outside']} twin pairs differ outside the marked regions."))
    bad = {k: v for k, v in f["problems"].items() if k not in ("missing_mask",)}
    if bad:
        out.append(Recommendation(
            "data hygiene", "Review the problems table before training; exclude refused files.",
            ", ".join(f"{k}: {v}" for k, v in sorted(bad.items())) + "."))
    return out


def to_markdown(t) -> str:
    """Findings and recommendations as Markdown."""
    lines = ["### Findings", ""]
    lines += [f"- **{x.topic}**: {x.text}" for x in findings(t)]
    lines += ["", "### Recommendations", ""]
    recs = recommendations(t)
    lines += [f"- **{r.topic}**: {r.text} _Why: {r.because}_" for r in recs] or [
        "- No rule fired: nothing in the tables calls for a change from defaults."]
    return "\n".join(lines)


def as_frame(t) -> pd.DataFrame:
    """Findings and recommendations as one tidy table (kind, topic, text, because)."""
    rows = [("finding", x.topic, x.text, "") for x in findings(t)]
    rows += [("recommendation", r.topic, r.text, r.because) for r in recommendations(t)]
    return pd.DataFrame(rows, columns=["kind", "topic", "text", "because"])
