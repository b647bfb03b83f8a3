"""The analyst summary: findings and recommendations computed from the tables."""

import pandas as pd

from eda_lib.analysis import summary
from eda_lib.measure.health import ISSUES


def _with(tables, **frames):
    """The tables with some frames replaced."""
    return type(tables)(**{**tables.__dict__, **frames})


def test_summary_numbers_come_from_the_tables(tables):
    text = summary.to_markdown(tables)
    assert "6 images: 2 authentic, 3 forged, 1 test." in text
    assert "2 of 3 forged images have a mask" in text
    assert "nan" not in text.lower()
    twins = int(tables.images.query("label == 'forged'")["twin"].sum())
    assert f"{twins} forged image{' has' if twins == 1 else 's have'} their authentic" in text
    topics = {r.topic for r in summary.recommendations(tables)}
    assert "validation" in topics  # twins exist
    assert "data hygiene" in topics  # an orphan mask


def test_summary_without_twins_gives_no_grouping_advice(tables):
    t = _with(tables, images=tables.images.assign(twin=False))
    assert "validation" not in {r.topic for r in summary.recommendations(t)}


def _health(flagged: dict[str, list]) -> pd.DataFrame:
    n = len(next(iter(flagged.values())))
    columns = {"split": ["train"] * n, "label": ["forged"] * n, "case_id": [str(i) for i in range(n)]}
    for issue in ISSUES:
        columns[f"{issue}_score"] = [1.0] * n
        columns[f"is_{issue}_issue"] = flagged.get(issue, [False] * n)
    return pd.DataFrame(columns)


def test_health_finding_names_each_flagged_issue_with_its_count(tables):
    health = _health({"odd_size": [True, True, False], "low_information": [True, None, False]})
    found = {f.topic: f.text for f in summary.findings(_with(tables, health=health))}
    assert found["health"] == ("Images flagged by the cleanvision checks: low information 1, "
                               "odd size 2.")


def test_no_health_finding_when_nothing_is_flagged(tables):
    health = _health({"dark": [False, False]}).assign(is_unrelated_issue=[True, True])
    assert "health" not in {f.topic for f in summary.findings(_with(tables, health=health))}


def test_blind_screen_finding_and_authentic_advice_follow_the_tables(tables):
    import dataclasses

    from eda_lib.tables import frame

    img = tables.images.copy()
    authentic = (img["label"] == "authentic") & (img["case_id"] == "10")
    img.loc[authentic, "screen_copies"] = 2
    screening = frame("screening", [
        {"split": "train", "label": "authentic", "case_id": "10", "pair": 1, "verdict": "copy"},
        {"split": "train", "label": "authentic", "case_id": "10", "pair": 2, "verdict": "copy"},
        {"split": "train", "label": "forged", "case_id": "25", "pair": 1,
         "verdict": "rejected", "reason": "text"},
    ])
    t = dataclasses.replace(tables, images=img, screening=screening)
    found = {x.topic: x.text for x in summary.findings(t)}["blind screen"]
    screened = int((img["screen_status"] == "screened").sum())
    assert found.startswith(f"The blind screen (no mask, no twin) flagged 1 of {screened} "
                            "screened images (authentic 1).")
    assert "rejected by its controls: text 1." in found
    advice = {r.topic: r.because for r in summary.recommendations(t)}
    assert advice["authentic labels"].startswith("1 authentic image holds a region")
    assert "authentic labels" not in {r.topic for r in summary.recommendations(tables)}


def test_a_run_without_the_screen_says_section_10_does_not_apply(tables):
    """One section that does not apply is named in the singular, with its reason."""
    assert "sections" not in {f.topic for f in summary.findings(tables)}
    off = _with(tables, images=tables.images.assign(screen_status="off"))
    found = {f.topic: f.text for f in summary.findings(off)}
    assert found["sections"] == ("Section 10 does not apply to this dataset (this run had "
                                 "screening: false); each says at its top what it needs.")


def test_a_run_without_copy_move_says_section_6_does_not_apply(tables):
    """Every instance has a copy_move row when the analysis ran; none at all means the
    run switched it off, or it failed on every image (then the problems say so)."""
    from eda_lib.tables import frame

    assert len(tables.instances) and summary.section_gap(tables, "06") == ""
    off = _with(tables, copy_move=tables.copy_move.iloc[:0])
    assert summary.section_gap(off, "06").endswith(
        "their copy-move analysis (parameter copy_move), and this run had copy_move: false")
    failed = frame("problems", [{"path": "train_masks/1.npy", "case_id": "1",
                                 "kind": "copy_move_failed", "detail": "ValueError: x"}])
    broken = _with(off, problems=pd.concat([tables.problems, failed], ignore_index=True))
    assert summary.section_gap(broken, "06").endswith(
        "the copy-move analysis failed on every image (tables/problems.csv says why)")
    no_masks = _with(off, masks=tables.masks.iloc[:0], instances=tables.instances.iloc[:0])
    assert summary.section_gap(no_masks, "06").endswith("no mask file was found")


def test_doctests():
    import doctest

    assert doctest.testmod(summary).failed == 0


def test_extreme_sizes_and_aspects_keep_their_digits(tables):
    """A 10 x 4000 strip and a 1-pixel image: an aspect of 1/400 is not 0.00, and a
    size of 1 pixel is not 0.000 megapixels."""
    img = tables.images.copy()
    ok = img.index[img["status"] == "ok"]
    img.loc[ok, ["width", "height"]] = 600, 400
    img.loc[ok[0], ["width", "height"]] = 10, 4000
    img.loc[ok[1], ["width", "height"]] = 1, 1
    img["aspect"] = img["width"] / img["height"]
    t = _with(tables, images=img)
    found = {f.topic: f.text for f in summary.findings(t)}["geometry"]
    assert found == ("Sizes of the labelled images span 1 pixel to 0.24 MP (median 0.24 MP); "
                     "aspect W/H from 0.0025 to 1.5.")
    advice = {r.topic: r.because for r in summary.recommendations(t)}["input size"]
    assert advice == "sizes span 1 pixel to 0.24 MP and aspect 0.0025 to 1.5."


def test_section_7_speaks_of_twins_only_when_there_are_twins(tables):
    twins = int(tables.images.query("label == 'forged'")["twin"].sum())
    assert twins
    note = summary.duplicates_note(tables)
    assert note.startswith("Twins are near duplicates by construction")
    assert f"{twins} forged image{' has its' if twins == 1 else 's have their'} twin here" in note
    alone = summary.duplicates_note(_with(tables, images=tables.images.assign(twin=False)))
    assert alone.startswith("No forged image here has its authentic twin, so no duplicate set "
                            "is expected; every set joins images of different case_ids")
    assert "Twins" not in alone
