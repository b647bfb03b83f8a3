"""Tests of eda_lib.report.figures: which figures a section shows, under which names.

Examples are hand-made arrays; helpers that load pixels read the hand-made dataset of
``handmade.py``.
"""

import matplotlib

matplotlib.use("Agg")

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from handmade import hand_dataset, ramp
from matplotlib.figure import Figure
from matplotlib.text import Text

from eda_lib.measure.health import ISSUES
from eda_lib.report import figures, gallery

# hand-made tables have no stored views: their loads decode the files and warn
pytestmark = pytest.mark.filterwarnings("ignore:no stored view:UserWarning")


def example(case_id: str, twin: bool = False, h: int = 6, w: int = 8) -> gallery.Example:
    masks = np.zeros((1, h, w), bool)
    masks[0, 1:3, 2:4] = True
    rgb = ramp(h, w)
    return gallery.Example(case_id, "train", rgb, masks, 255 - rgb if twin else None)


def health_table(labels, case_ids, flagged, scores=None) -> pd.DataFrame:
    """A ``health`` table with every issue of ISSUES, unflagged at score 1 unless given."""
    n = len(labels)
    columns = {"split": ["train"] * n, "label": labels, "case_id": case_ids}
    for issue in ISSUES:
        columns[f"{issue}_score"] = (scores or {}).get(issue, [1.0] * n)
        columns[f"is_{issue}_issue"] = flagged.get(issue, [False] * n)
    return pd.DataFrame(columns)


def test_score_issues_are_health_issues():
    assert set(figures.SCORE_ISSUES) <= set(ISSUES)


# ------------------------------------------------------------------ forged examples


def test_example_shows_the_first_example():
    shown = figures.example([example("7"), example("8")], display_size=200)
    assert list(shown) == ["example"]
    assert isinstance(shown["example"], Figure)
    assert shown["example"].get_suptitle().startswith("case 7\n8×6 px, 1 instance")


def test_example_grid_has_one_cell_per_example():
    shown = figures.example_grid([example("7"), example("8"), example("9")], tile=64)
    assert list(shown) == ["grid"]
    fig = shown["grid"]
    assert fig.get_suptitle() == "Forged images with their instances"
    assert [caption.split("\n")[0] for caption in _captions(fig)] == [
        "case 7", "case 8", "case 9"]


def _captions(fig) -> list[str]:
    """The captions of a grid's cells, in order (texts of its axes)."""
    return [text.get_text() for ax in fig.get_axes() for text in ax.texts]


@pytest.mark.parametrize("helper", [
    lambda examples: figures.example(examples, display_size=200),
    lambda examples: figures.example_grid(examples, tile=64),
    lambda examples: figures.twins(examples, display_size=200),
], ids=["example", "grid", "twins"])
def test_nothing_to_show_without_examples(helper):
    assert helper([]) == {}


def test_twins_first_three_examples_with_a_twin():
    examples = [example("1"), example("2", twin=True), example("3", twin=True), example("4"),
                example("5", twin=True), example("6", twin=True)]
    shown = figures.twins(examples, display_size=200)
    assert list(shown) == ["twin_train_2", "twin_train_3", "twin_train_5"]
    assert shown["twin_train_3"].get_suptitle().startswith("case 3\n")


def test_twins_of_one_case_id_in_two_splits_are_two_figures():
    import dataclasses

    train = example("2", twin=True)
    shown = figures.twins([train, dataclasses.replace(train, split="supplemental")],
                          display_size=200)
    assert list(shown) == ["twin_train_2", "twin_supplemental_2"]


def test_twins_none_without_a_twin():
    assert figures.twins([example("1")], display_size=200) == {}


def test_authentic_vs_forged(tmp_path):
    cfg, t, _ = hand_dataset(tmp_path, max_grid_images=2)
    shown = figures.authentic_vs_forged(cfg, t, [example("7"), example("8"), example("9")])
    assert list(shown) == ["authentic_vs_forged"]
    fig = shown["authentic_vs_forged"]
    assert fig.get_suptitle() == "Authentic and forged images"
    # at most max_grid_images of each; authentic ones are a sample of the three that decoded
    assert [text.get_text() for text in fig.texts][:2] == ["authentic (n=2)", "forged (n=2)"]


def test_authentic_vs_forged_takes_up_to_six(tmp_path):
    cfg, t, _ = hand_dataset(tmp_path)
    shown = figures.authentic_vs_forged(cfg, t, [example(str(i)) for i in range(8)])
    fig = shown["authentic_vs_forged"]
    assert [text.get_text() for text in fig.texts][:2] == ["authentic (n=3)", "forged (n=6)"]
    assert len(_captions(fig)) == 9


def test_authentic_vs_forged_needs_both_rows(tmp_path):
    cfg, t, _ = hand_dataset(tmp_path)
    assert figures.authentic_vs_forged(cfg, t, []) == {}
    unreadable = type(t)(images=t.images.assign(status="unreadable"), masks=t.masks)
    assert figures.authentic_vs_forged(cfg, unreadable, [example("7")]) == {}


# ------------------------------------------------------------------ copy-move


def test_copy_move_evidence_captions_and_names(hand_data):
    cfg, t, _ = hand_data
    row = {"split": "train", "case_id": "1", "instance": 1, "method": "search", "verdict": "copy",
           "transform": "identity", "margin": 0.5, "target_x1": 1, "target_y1": 1, "target_x2": 2,
           "target_y2": 2, "source_x1": 5, "source_y1": 4, "source_x2": 6, "source_y2": 5}
    rows = pd.DataFrame([row, {**row, "instance": 2}])
    showcase = {"most certain": rows, "least certain": rows.iloc[:0],
                "flips and rotations": rows.iloc[:1]}
    groups = figures.copy_move_evidence(cfg, t, showcase)
    assert list(groups) == ["most certain: 2 instances", "least certain: 0 instances",
                            "flips and rotations: 1 instance"]
    assert [list(g) for g in groups.values()] == [["most_0", "most_1"], [], ["flips_0"]]
    assert groups["most certain: 2 instances"]["most_1"].get_suptitle().startswith(
        "case 1, instance 2: search, identity, copy")


# ------------------------------------------------------------------ blind screen


def _screen_rows(**over):
    row = {"split": "train", "label": "authentic", "case_id": "4", "pair": 1, "verdict": "copy",
           "reason": None, "transform": "flip_h", "scale": 1.0, "ncc": 0.95,
           "residual_ncc": 0.5, "margin": 0.2, "source_x1": 0, "source_y1": 0, "source_x2": 2,
           "source_y2": 2, "target_x1": 4, "target_y1": 2, "target_x2": 6, "target_y2": 4}
    return {**row, **over}


def test_screening_pairs_names_titles_and_limit(hand_data):
    cfg, t, _ = hand_data
    rows = pd.DataFrame([_screen_rows(), _screen_rows(pair=2, case_id="4", ncc=None),
                         _screen_rows(pair=3)])
    got = figures.screening_pairs(cfg, t, rows, "authentic", limit=2)
    assert list(got) == ["authentic_train_authentic_4_1", "authentic_train_authentic_4_2"]
    title = got["authentic_train_authentic_4_1"].get_suptitle()
    assert title == "train authentic 4, pair 1: flip_h, ncc 0.95, copy"
    assert figures.screening_pairs(cfg, t, rows.iloc[:0], "x") == {}


def test_screening_controls_one_group_per_reason_most_frequent_first(hand_data):
    cfg, t, _ = hand_data
    t.screening = pd.DataFrame([
        _screen_rows(),
        _screen_rows(pair=2, verdict="rejected", reason="text", ncc=0.5),
        _screen_rows(pair=3, verdict="rejected", reason="text", ncc=0.9),
        _screen_rows(pair=4, verdict="rejected", reason="text", ncc=0.7),
        _screen_rows(pair=5, verdict="unsure", reason="weak_match"),
    ])
    groups = figures.screening_controls(cfg, t)
    assert list(groups) == ["text: 3 pairs, 1 drawn", "weak_match: 1 pair, 1 drawn"]
    # the strongest example, SCREEN_EXAMPLES of each
    assert figures.SCREEN_EXAMPLES == 1
    assert list(groups["text: 3 pairs, 1 drawn"]) == ["control_text_train_authentic_4_3"]


@pytest.mark.parametrize(("max_grid_images", "cap"), [(12, 3), (2, 1), (40, 10)])
def test_screening_pairs_draw_a_quarter_of_max_grid_images(tmp_path, max_grid_images, cap):
    cfg, t, _ = hand_dataset(tmp_path, max_grid_images=max_grid_images)
    assert figures.screening_cap(cfg) == cap
    rows = pd.DataFrame([_screen_rows(pair=k, source_x1=0, source_x2=1, target_x1=4,
                                      target_x2=5) for k in range(1, 13)])
    got = figures.screening_pairs(cfg, t, rows, "authentic")
    assert list(got) == [f"authentic_train_authentic_4_{k}" for k in range(1, min(cap, 12) + 1)]


def _texts(fig) -> list[str]:
    return [text.get_text() for text in fig.findobj(Text)]


def test_pair_panel_drawn_from_a_view_quotes_the_file_pixels():
    view = ramp(40, 50)
    target, source = (5, 5, 14, 14), (30, 20, 39, 29)
    crop = view[5:15, 5:15]
    pair = gallery.PairView({"rgb": view, "target_box": target, "source_box": source,
                             "aligned_source": crop, "target_crop": crop, "title": "pair"},
                            (80, 100), (10, 10, 29, 29), (60, 40, 79, 59))
    texts = _texts(figures._pair_panel(pair, display_size=200))
    assert "100×80 px" in texts and "50×40 px" not in texts
    assert "target: x 10–29, y 10–29" in texts and "source: x 60–79, y 40–59" in texts
    assert "aligned source (20×20 px)" in texts and "target (20×20 px)" in texts
    same = gallery.PairView({**pair.panel}, (40, 50), target, source)  # a view of the whole file
    assert "50×40 px" in _texts(figures._pair_panel(same, display_size=200))


def test_examples_drawn_from_views_quote_the_file_size_and_marked_share():
    small = example("7")
    big = gallery.Example("8", "train", small.rgb, small.masks, 255 - small.rgb, (60, 80), 0.0125)
    texts = _texts(figures.example([big], display_size=200)["example"])
    assert any("80×60 px, 1 instance" in text for text in texts)
    assert "union mask: 1.2% of the image" in texts
    grid = _texts(figures.example_grid([small, big], tile=64)["grid"])
    assert "case 7\n8×6 px, 1 instance" in grid and "case 8\n80×60 px, 1 instance" in grid
    twin = _texts(figures.twins([big], display_size=200)["twin_train_8"])
    assert any(text.startswith("case 8\n80×60 px") for text in twin)


def test_authentic_vs_forged_quotes_the_file_sizes(tmp_path):
    cfg, t, _ = hand_dataset(tmp_path)
    small = example("7")
    big = gallery.Example("8", "train", small.rgb, small.masks, None, (60, 80), 0.01)
    texts = _texts(figures.authentic_vs_forged(cfg, t, [big])["authentic_vs_forged"])
    assert "case 8\n80×60 px, 1 instance" in texts and "case 4\n7×5 px" in texts


def test_screening_recovery_only_when_pairs_were_compared():
    images = pd.DataFrame({"split": ["train"], "label": ["forged"], "case_id": ["1"],
                           "width": [100], "height": [100]})
    cm = pd.DataFrame({"split": ["train"], "case_id": ["1"], "transform": ["identity"],
                       "scale": [1.0], "target_x1": [0], "target_y1": [0], "target_x2": [9],
                       "target_y2": [9], "screen_found": pd.array([None], dtype="boolean")})
    t = SimpleNamespace(images=images, copy_move=cm)
    assert figures.screening_recovery(t) == {}
    t.copy_move = cm.assign(screen_found=pd.array([True], dtype="boolean"))
    fig = figures.screening_recovery(t)["recovery"]
    assert [ax.get_title() for ax in fig.axes] == ["transform", "scale", "area", "image size"]


# ------------------------------------------------------------------ health


def test_health_scores_one_histogram_per_score_issue_without_test_images():
    h = health_table(["authentic", "forged", "forged", ""], ["1", "2", "3", "4"], {})
    shown = figures.health_scores(h)
    assert list(shown) == [f"{issue}_score" for issue in figures.SCORE_ISSUES]
    ax = shown["low_information_score"].get_axes()[0]
    assert ax.get_title() == "low information score (low = issue)"
    assert ax.get_xlabel() == "low_information_score"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["authentic (n=1)", "forged (n=2)"]


def test_health_worst_flagged_issues_in_issue_order(tmp_path):
    cfg, t, _ = hand_dataset(tmp_path, max_grid_images=2)
    health = health_table(
        ["forged", "forged", "forged", "authentic"], ["1", "2", "3", "4"],
        {"blurry": [True, True, True, False], "dark": [False, False, False, True]},
        scores={"blurry": [0.2, 0.1, 0.3, 0.9], "dark": [0.5, 0.5, 0.5, 0.05]})
    t.health = health
    shown = figures.health_worst(cfg, t)
    assert list(shown) == ["worst_dark", "worst_blurry"]  # the order of ISSUES
    fig = shown["worst_blurry"]
    assert fig.get_suptitle() == "blurry: lowest scores"
    captions = [caption.split("\n")[0] for caption in _captions(fig)]
    assert captions == ["forged 2: 0.100", "forged 1: 0.200"]  # max_grid_images of them


def test_health_worst_nothing_flagged(tmp_path):
    cfg, t, _ = hand_dataset(tmp_path)
    t.health = health_table(["forged"], ["1"], {})
    assert figures.health_worst(cfg, t) == {}
