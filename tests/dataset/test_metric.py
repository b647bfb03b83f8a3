"""Tests of eda_lib.dataset.metric: the official examples, the RLE, the decoder rules, validation."""

from __future__ import annotations

import csv
import doctest
import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from eda_lib.dataset import metric
from eda_lib.dataset.metric import SubmissionError
from eda_lib.errors import DataError

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def masks_of(shape, pixels):
    """An (H, W) bool mask with the given (row, col) pixels set."""
    m = np.zeros(shape, bool)
    for r, c in pixels:
        m[r, c] = True
    return m


# --- the official examples (DATASET.md) --------------------------------------------------

OFFICIAL = [
    (["authentic"] * 3, "authentic", 1.0),
    (["authentic"] * 3, "[101, 102]", 0.0),
    (["[101, 102]"] * 3, "[101, 102]", 1.0),
    (["[101, 103]", "[101, 102]", "[101, 102]"], "[101, 102]", 0.9983739837398374),
    (["[101, 102];[300, 100]", "[101, 102]", "[101, 102]"], "[101, 102]", 0.8333333333333334),
]


def official_frames(truths, prediction):
    solution = pd.DataFrame({"case_id": [1, 2, 3], "annotation": truths,
                             "shape": ["[720, 960]"] * 3})
    submission = pd.DataFrame({"case_id": ["1", "2", "3"], "annotation": [prediction] * 3})
    return solution, submission


@pytest.mark.parametrize("truths, prediction, expected", OFFICIAL)
def test_official_examples_exactly(truths, prediction, expected):
    assert metric.score(*official_frames(truths, prediction)) == expected


def test_official_two_truths_one_exact_prediction_scores_half():
    details = metric.score_details(*official_frames(OFFICIAL[4][0], "[101, 102]"))
    assert details["score"].tolist() == [0.5, 1.0, 1.0]
    assert details["truth_instances"].tolist() == [2, 1, 1]
    assert details["pred_instances"].tolist() == [1, 1, 1]


def test_official_f1_of_one_extra_pixel():
    truth = metric.rle_decode("[101, 103]", "[720, 960]")
    pred = metric.rle_decode("[101, 102]", "[720, 960]")
    assert metric.of1([truth], [pred]) == 2 * (102 / 103) / (1 + 102 / 103)


# --- RLE on hand-made masks ----------------------------------------------------------------

HAND_MADE = [
    ("wraps from column 0 into column 1", masks_of((3, 4), [(1, 0), (2, 0), (0, 1)]), [2, 3]),
    ("full", np.ones((3, 4), bool), [1, 12]),
    ("empty", np.zeros((3, 4), bool), []),
    ("last pixel", masks_of((3, 4), [(2, 3)]), [12, 1]),
    ("first pixel", masks_of((3, 4), [(0, 0)]), [1, 1]),
    ("one row", masks_of((1, 5), [(0, 1), (0, 2), (0, 4)]), [2, 2, 5, 1]),
    ("one column", masks_of((4, 1), [(1, 0), (2, 0)]), [2, 2]),
    ("1x1", np.ones((1, 1), np.uint8), [1, 1]),
    ("whole columns", np.array([[0, 1, 1, 0], [0, 1, 1, 0]], np.uint8), [3, 4]),
]


@pytest.mark.parametrize("name, mask, rle", HAND_MADE, ids=[c[0] for c in HAND_MADE])
def test_rle_on_hand_made_masks(name, mask, rle):
    assert metric.rle_encode(mask) == rle
    decoded = metric.rle_decode(rle, mask.shape)
    assert decoded.dtype == bool and decoded.flags.c_contiguous
    np.testing.assert_array_equal(decoded, mask.astype(bool))
    np.testing.assert_array_equal(metric.rle_decode(json.dumps(rle), json.dumps(list(mask.shape))),
                                  mask.astype(bool))


@pytest.mark.parametrize("shape", [(1, 1), (1, 5), (4, 1), (3, 3), (2, 5), (6, 2)])
def test_matching_equals_the_hungarian_solution(shape):
    from scipy.optimize import linear_sum_assignment

    f1 = np.random.default_rng(sum(shape)).random(shape)
    rows, cols = linear_sum_assignment(-f1)
    assert metric._matched_sum(f1) == pytest.approx(f1[rows, cols].sum(), abs=1e-12)


def test_parse_runs_reads_what_format_runs_writes_without_drawing():
    runs = [[2, 3, 12, 1], [5, 2]]
    assert [r.tolist() for r in metric.parse_runs(metric.format_runs(runs), (3, 4))] == runs
    assert metric.parse_runs(metric.format_runs([[], []]), (3, 4)) == "authentic"
    with pytest.raises(SubmissionError, match="instance 2 of 2") as info:
        metric.parse_runs("[1, 2];[12, 2]", (3, 4))
    assert info.value.kind == "rle_outside_image"


def test_adjacent_runs_are_valid():
    np.testing.assert_array_equal(metric.rle_decode([1, 2, 3, 2], (2, 3)),
                                  np.array([[1, 1, 0], [1, 1, 0]], bool))


def test_integer_array_input_is_accepted():
    np.testing.assert_array_equal(metric.rle_decode(np.array([2, 3], np.uint16), (3, 4)),
                                  masks_of((3, 4), [(1, 0), (2, 0), (0, 1)]))


def test_round_trip_on_a_full_size_mask():
    rng = np.random.default_rng(3)
    mask = np.zeros((2592, 3888), bool)
    mask[100:900, 3000:3888] = True
    mask[rng.random(mask.shape) < 0.01] = True
    mask[-1, -1] = True
    rle = metric.rle_encode(mask)
    assert rle[-2:] == [2592 * 3888, 1]
    np.testing.assert_array_equal(metric.rle_decode(rle, mask.shape), mask)


def column_major_runs(mask: np.ndarray) -> list[int]:
    """The runs by their definition: over the whole image, column by column."""
    flat = np.concatenate(([0], mask.T.ravel().astype(np.int8), [0]))
    edges = np.flatnonzero(np.diff(flat))
    starts, ends = edges[0::2], edges[1::2]
    return np.column_stack([starts + 1, ends - starts]).ravel().tolist()


@pytest.mark.parametrize("rows", [(2, 5), (0, 5), (4, 9), (0, 9)])  # inside, top, bottom, all
def test_rle_of_a_mask_that_touches_the_top_bottom_or_both(rows):
    rng = np.random.default_rng(sum(rows))
    for _ in range(40):
        mask = np.zeros((9, 7), bool)
        mask[rows[0]:rows[1], 1:6] = rng.random((rows[1] - rows[0], 5)) < 0.6
        mask[rows[0], 3] = mask[rows[1] - 1, 2] = True  # the box spans exactly these rows
        assert metric.rle_encode(mask) == column_major_runs(mask)


# --- the decoder's rules --------------------------------------------------------------------

BROKEN = [
    ([1, 2, 3], "odd_length_rle", "3 values"),
    ([0, 2], "non_positive_rle", "run 1 has start 0"),
    ([1, 2, 5, 0], "non_positive_rle", "run 2 has length 0"),
    ([-3, 2], "non_positive_rle", "start -3"),
    ([-2**70, 1], "non_positive_rle", "value 1"),
    ([1.5, 2], "non_integer_rle", "value 1"),
    ([1, 2.0], "non_integer_rle", "value 2"),
    ([1, "2"], "non_integer_rle", "'2'"),
    ([True, 1], "non_integer_rle", "True"),
    ([[1, 2]], "non_integer_rle", "[1, 2]"),
    ("[1.0, 2]", "non_integer_rle", "1.0"),
    ("[NaN, 2]", "non_integer_rle", "nan"),
    ([5, 1, 2, 1], "descending_rle", "run 2 starts at 2"),
    ([5, 1, 5, 1], "descending_rle", "run 2 starts at 5"),
    ([1, 3, 3, 1], "overlapping_rle", "run 2 (start 3, length 1) starts inside run 1"),
    ([12, 2], "rle_outside_image", "ends at pixel 13, past the last pixel 12 of an 3 x 4"),
    ([1, 1, 13, 1], "rle_outside_image", "run 2"),
    ([2**70, 1], "rle_outside_image", "value 1"),
    ("1 3 10 5", "space_separated_rle", "write [1, 3, 10, 5]"),
    ("[1 3 10 5]", "space_separated_rle", "JSON"),
    ("abc", "unparsable_annotation", "not a JSON list"),
    ("{}", "unparsable_annotation", "not a JSON list"),
    ("5", "unparsable_annotation", "not a JSON list"),
    ("", "unparsable_annotation", "empty"),
    ("[1, 2];[5, 1]", "unparsable_annotation", "parse_annotation"),
    ("[" * 100_000, "unparsable_annotation", "not a JSON list"),
]


@pytest.mark.parametrize("rle, kind, where", BROKEN,
                         ids=[f"{c[1]}:{str(c[0])[:20]}" for c in BROKEN])
def test_each_decoder_rule_raises_its_typed_error(rle, kind, where):
    with pytest.raises(SubmissionError) as info:
        metric.rle_decode(rle, (3, 4))
    assert info.value.kind == kind and kind in metric.PROBLEMS
    assert isinstance(info.value, DataError)
    assert where in str(info.value)


@pytest.mark.parametrize("text, where", [
    ("Authentic", "lower case"),
    ("authentic ", "lower case"),
    ("[1, 2];", "instance 2 of 2: empty"),
    ("authentic;[1, 2]", "instance 1 of 2"),
    ("[1, 2];[12, 2]", "instance 2 of 2: run 1"),  # instances may overlap; runs may not
])
def test_parse_annotation_names_the_instance(text, where):
    with pytest.raises(SubmissionError) as info:
        metric.parse_annotation(text, (3, 4))
    assert where in str(info.value)


def test_parse_annotation_refuses_a_non_text_annotation():
    with pytest.raises(SubmissionError, match="keep_default_na=False") as info:
        metric.parse_annotation(float("nan"), (3, 4))
    assert info.value.kind == "unparsable_annotation"


@pytest.mark.parametrize("shape", ["[720]", (0, 5), "abc", (2.5, 3), 7, "[720, 960, 3]", (True, 2)])
def test_bad_shapes_are_refused(shape):
    with pytest.raises(SubmissionError) as info:
        metric.rle_decode([1, 1], shape)
    assert info.value.kind == "bad_shape"


@pytest.mark.parametrize("mask", [
    np.zeros((2, 3, 4), bool), np.zeros(5, bool), np.full((2, 2), 0.7),
    np.array([[0, 255]], np.uint8), np.array([[0, -1]]),
])
def test_bad_masks_are_refused(mask):
    with pytest.raises(SubmissionError) as info:
        metric.rle_encode(mask)
    assert info.value.kind == "bad_mask" and info.value.kind in metric.REFUSALS


def test_format_annotation_refuses_a_single_2d_mask_and_annotation_text():
    with pytest.raises(SubmissionError, match="wrap a single"):
        metric.format_annotation(np.ones((3, 4), bool))
    with pytest.raises(SubmissionError, match="parse_annotation"):
        metric.of1("[1, 2]", "authentic")


def test_of1_refuses_masks_of_different_shapes():
    with pytest.raises(SubmissionError) as info:
        metric.of1([np.ones((3, 4), bool)], [np.ones((4, 3), bool)])
    assert info.value.kind == "shape_mismatch"


# --- annotations and of1 ---------------------------------------------------------------------


def test_format_annotation_examples():
    a = metric.rle_decode([123, 4, 200, 3], (50, 40))
    b = metric.rle_decode([1000, 10], (50, 40))
    assert metric.format_annotation([a, b]) == "[123, 4, 200, 3];[1000, 10]"
    assert metric.format_annotation(np.stack([a, b])) == "[123, 4, 200, 3];[1000, 10]"
    assert metric.format_annotation([]) == "authentic"
    assert metric.format_annotation(np.zeros((2, 50, 40), np.uint8)) == "authentic"


def test_truth_from_masks_keeps_non_empty_channels():
    stack = np.zeros((3, 4, 5), np.uint8)
    stack[0, 1, 1] = stack[2, 3, 4] = 1
    instances = metric.truth_from_masks(stack)
    assert len(instances) == 2 and all(m.dtype == bool and m.shape == (4, 5) for m in instances)
    with pytest.raises(SubmissionError, match=r"\(N, H, W\)"):
        metric.truth_from_masks(stack[0])


def test_of1_counts_extra_and_missing_predictions():
    a, b, c = (masks_of((4, 4), [p]) for p in [(0, 0), (1, 1), (2, 2)])
    assert metric.of1([a, b], [b, a]) == 1.0
    assert metric.of1([a, b], [a]) == 0.5
    assert metric.of1([a], [a, b, c]) == 1 / 3
    assert metric.of1([a], [np.zeros((4, 4), bool)]) == 0.0  # an empty mask is not authentic
    assert metric.of1([], "authentic") == 1.0 and metric.of1([a], []) == 0.0


# --- properties ----------------------------------------------------------------------------

shapes = st.tuples(st.integers(1, 12), st.integers(1, 12))
masks = shapes.flatmap(lambda hw: hnp.arrays(np.bool_, hw))
instance_lists = shapes.flatmap(lambda hw: st.lists(hnp.arrays(np.bool_, hw), max_size=4))
non_empty_lists = shapes.flatmap(
    lambda hw: st.lists(hnp.arrays(np.bool_, hw).filter(np.any), min_size=1, max_size=4))


@SETTINGS
@given(masks)
def test_rle_round_trip(mask):
    rle = metric.rle_encode(mask)
    np.testing.assert_array_equal(metric.rle_decode(rle, mask.shape), mask)
    assert sum(rle[1::2]) == mask.sum()


@SETTINGS
@given(instance_lists)
def test_annotation_round_trip(instances):
    shape = instances[0].shape if instances else (3, 3)
    parsed = metric.parse_annotation(metric.format_annotation(instances), shape)
    kept = [m for m in instances if m.any()]
    if not kept:
        assert parsed == "authentic"
    else:
        assert len(parsed) == len(kept)
        for got, want in zip(parsed, kept):
            np.testing.assert_array_equal(got, want)


@SETTINGS
@given(non_empty_lists)
def test_of1_of_instances_against_themselves_and_authentic(instances):
    assert metric.of1(instances, instances) == 1.0
    assert metric.of1(instances, "authentic") == 0.0
    assert metric.of1("authentic", instances) == 0.0


@SETTINGS
@given(shapes.flatmap(lambda hw: st.tuples(
    st.lists(hnp.arrays(np.bool_, hw), max_size=4),
    st.lists(hnp.arrays(np.bool_, hw), max_size=5))))
def test_of1_from_runs_equals_of1_from_masks(pair):
    """Scoring counts intersections from the runs; the masks give the same score, exactly."""
    truth, pred = pair

    def runs(masks):
        return [np.array(metric.rle_encode(m), np.int64) for m in masks] or "authentic"

    assert metric.of1_runs(runs(truth), runs(pred)) == metric.of1(truth or "authentic",
                                                                  pred or "authentic")


@SETTINGS
@given(shapes.flatmap(lambda hw: st.tuples(
    st.lists(hnp.arrays(np.bool_, hw), min_size=1, max_size=4),
    st.lists(hnp.arrays(np.bool_, hw), min_size=1, max_size=5))), st.randoms(use_true_random=False))
def test_of1_ignores_the_order_of_predictions(pair, random):
    truth, pred = pair
    shuffled = random.sample(pred, len(pred))
    base = metric.of1(truth, pred)
    assert 0.0 <= base <= 1.0
    # Equal up to rounding: the matched F1 values are summed in prediction order.
    assert math.isclose(metric.of1(truth, shuffled), base, rel_tol=0, abs_tol=1e-12)


@SETTINGS
@given(st.lists(st.integers(-5, 40), max_size=12), shapes)
def test_decoder_returns_a_consistent_mask_or_a_typed_error(values, shape):
    try:
        mask = metric.rle_decode(values, shape)
    except SubmissionError as exc:
        assert exc.kind in metric.PROBLEMS
        return
    assert mask.shape == shape and mask.sum() == sum(values[1::2])


@SETTINGS
@given(st.text(alphabet="0123456789[], ;.-eEaNtuhicn\t", max_size=40))
def test_any_annotation_text_parses_or_raises_a_typed_error(text):
    try:
        parsed = metric.parse_annotation(text, (4, 5))
    except SubmissionError as exc:
        assert exc.kind in metric.PROBLEMS
        return
    assert parsed == "authentic" or all(m.shape == (4, 5) for m in parsed)


# --- score and score_details ---------------------------------------------------------------


def test_missing_case_is_an_error_and_extra_cases_are_ignored():
    solution, submission = official_frames(["[101, 102]"] * 3, "[101, 102]")
    with pytest.raises(SubmissionError) as info:
        metric.score(solution, submission.iloc[:2])
    assert info.value.kind == "missing_case_id" and info.value.case_id == "3"
    extra = pd.concat([submission, pd.DataFrame({"case_id": ["9"], "annotation": ["garbage"]})])
    assert metric.score(solution, extra) == 1.0


def test_duplicate_case_and_missing_columns_are_errors():
    solution, submission = official_frames(["authentic"] * 3, "authentic")
    with pytest.raises(SubmissionError) as info:
        metric.score(solution, pd.concat([submission, submission.iloc[:1]]))
    assert info.value.kind == "duplicate_case_id"
    with pytest.raises(SubmissionError) as info:
        metric.score(solution.drop(columns="shape"), submission)
    assert info.value.kind == "bad_frame"
    with pytest.raises(SubmissionError) as info:
        metric.score(solution.iloc[:0], submission)
    assert info.value.kind == "bad_frame"


def test_a_broken_prediction_names_its_case_even_where_truth_is_authentic():
    solution, submission = official_frames(["authentic"] * 3, "authentic")
    submission.loc[1, "annotation"] = "[5, 1, 2, 1]"
    with pytest.raises(SubmissionError, match="case 2, submission: instance 1 of 1: run 2") as info:
        metric.score(solution, submission)
    assert info.value.kind == "descending_rle" and info.value.case_id == "2"


def test_shape_can_be_a_pair():
    solution, submission = official_frames(OFFICIAL[3][0], "[101, 102]")
    solution["shape"] = [(720, 960)] * 3
    assert metric.score(solution, submission) == 0.9983739837398374


def test_score_details_schema_with_no_rows():
    solution, submission = official_frames(["authentic"] * 3, "authentic")
    details = metric.score_details(solution.iloc[:0], submission)
    assert list(details.columns) == list(metric.DETAIL_COLUMNS)
    assert {c: str(t) for c, t in details.dtypes.items()} == {
        "case_id": "str", "truth_instances": "int64", "pred_instances": "int64", "score": "float64"}


# --- submission files -------------------------------------------------------------------------

BAD_CSV = "\n".join([
    "case_id,annotation",          # 1
    "10,authentic",                # 2
    '11,"[1, 2];[5, 3]"',          # 3
    "12,1 3 10 5",                 # 4 space-separated
    '13,"[1, 2, 3]"',              # 5 odd
    "",                            # 6 blank: skipped, lines still counted
    '14,"[5, 1, 2, 1]"',           # 7 descending
    '15,"[1, 3, 3, 1]"',           # 8 overlapping
    '16,"[10, 5]"',                # 9 outside a 3 x 4 image
    "11,authentic",                # 10 duplicate of line 3
    "99,authentic",                # 11 unknown
    "17,[1, 2]",                   # 12 unquoted: three fields
    "18,Authentic",                # 13 not the literal
    '19,"[1.5, 2];[0, 1]"',        # 14 two broken instances
    '21,"[1,',                     # 15 a quoted field over two lines
    '2]"',                         # 16
    '22,"[1, 1]"',                 # 17 after the two-line record
]) + "\n"
KNOWN = {str(c): (3, 4) for c in [*range(10, 20), 20, 21, 22]}


def test_validate_submission_reports_each_bad_row_on_its_line(tmp_path):
    path = tmp_path / "submission.csv"
    path.write_text(BAD_CSV)
    problems = metric.validate_submission(path, KNOWN)
    got = list(zip(problems["line"].tolist(), problems["case_id"], problems["kind"]))
    assert got == [
        (4, "12", "space_separated_rle"),
        (5, "13", "odd_length_rle"),
        (7, "14", "descending_rle"),
        (8, "15", "overlapping_rle"),
        (9, "16", "rle_outside_image"),
        (10, "11", "duplicate_case_id"),
        (11, "99", "unknown_case_id"),
        (12, "17", "field_count"),
        (13, "18", "unparsable_annotation"),
        (14, "19", "non_integer_rle"),
        (14, "19", "non_positive_rle"),
        (pd.NA, "20", "missing_case_id"),
    ]
    assert set(problems["kind"]) <= set(metric.PROBLEMS)
    details = dict(zip(problems["kind"], problems["detail"]))
    assert "already on line 3" in details["duplicate_case_id"]
    assert "quote" in details["field_count"]
    assert details["non_positive_rle"].startswith("instance 2 of 2")


def test_validate_submission_takes_aliases_of_known_cases(tmp_path):
    path = tmp_path / "submission.csv"
    path.write_text("case_id,annotation\n7,authentic\na/7,authentic\nb/8,authentic\n"
                    "7,authentic\n")
    problems = metric.validate_submission(path, {"a/7": (3, 4), "b/8": (3, 4), "c/9": (3, 4)},
                                          aliases={"7": "a/7"})
    got = list(zip(problems["line"].tolist(), problems["case_id"], problems["kind"],
                   problems["detail"]))
    assert got == [
        (3, "a/7", "duplicate_case_id", "case a/7 is already on line 2 as 7"),
        (5, "7", "duplicate_case_id", "case 7 (a/7) is already on line 2"),
        (pd.NA, "c/9", "missing_case_id", "no row for this case of the solution"),
    ]


def test_validate_without_known_checks_the_rules_only(tmp_path):
    path = tmp_path / "submission.csv"
    path.write_text(BAD_CSV)
    kinds = set(metric.validate_submission(path)["kind"])
    assert not kinds & {"unknown_case_id", "missing_case_id", "rle_outside_image"}
    assert "descending_rle" in kinds


def test_valid_submission_gives_an_empty_table_with_its_schema(tmp_path):
    path = tmp_path / "submission.csv"
    path.write_text('\ufeffcase_id,annotation\n10,authentic\n11,"[1, 2];[5, 3]"\n')
    problems = metric.validate_submission(path, {"10": (3, 4), "11": (3, 4)})
    assert problems.empty and list(problems.columns) == list(metric.PROBLEM_COLUMNS)
    assert {c: str(t) for c, t in problems.dtypes.items()} == {
        "line": "Int64", "case_id": "str", "kind": "str", "detail": "str"}


@pytest.mark.parametrize("text, expected", [
    ("id,annotation,extra\n10,authentic\n",
     [(1, "missing_column"), (1, "extra_column"), (1, "extra_column")]),
    ("", [(1, "missing_column"), (1, "missing_column")]),
    ("\n\ncase_id,annotation,annotation\n10,authentic,x\n", [(3, "extra_column")]),
])
def test_header_problems(tmp_path, text, expected):
    path = tmp_path / "submission.csv"
    path.write_text(text)
    problems = metric.validate_submission(path)
    assert list(zip(problems["line"].tolist(), problems["kind"])) == expected


def test_a_wrong_header_names_the_right_one_and_the_command_that_lists_every_problem(tmp_path):
    path = tmp_path / "submission.csv"
    path.write_text("id,rle\n10,authentic\n")
    with pytest.raises(SubmissionError) as info:
        metric.read_submission(path)
    message = str(info.value)
    assert "the header is 'id,rle', and must be case_id,annotation" in message
    assert "`python -m eda_lib validate` lists them all" in message


def test_unreadable_file_raises(tmp_path):
    path = tmp_path / "submission.csv"
    path.write_bytes(b"case_id,annotation\n10,\xff\xfe\n")
    with pytest.raises(SubmissionError) as info:
        metric.validate_submission(path)
    assert info.value.kind == "unreadable_submission" and info.value.path == path
    with pytest.raises(SubmissionError) as info:
        metric.validate_submission(tmp_path / "missing.csv")
    assert info.value.kind == "unreadable_submission"


@pytest.mark.parametrize("name, content, words", [
    ("missing.csv", None, "missing.csv: no such file; check the path"),
    ("folder", "folder", "folder: a folder; give the path of the submission file"),
    ("latin1.csv", "case_id,annotation\n10,authentic\n11,caf\xe9\n".encode("latin-1"),
     "latin1.csv, line 3: not UTF-8 text (byte 0xe9); save the file as UTF-8"),
])
def test_an_unreadable_file_is_named_with_the_fix_for_its_cause(tmp_path, name, content, words):
    path = tmp_path / name
    if content == "folder":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    for read in (metric.read_submission, metric.validate_submission):
        with pytest.raises(SubmissionError) as info:
            read(path)
        assert words in str(info.value) and info.value.kind == "unreadable_submission"
        assert "header" not in str(info.value)  # the header is not the cause


def test_long_annotations_are_read_and_the_csv_limit_restored(tmp_path):
    mask = np.zeros((400, 400), bool)
    mask[::2] = True                                # 80,000 runs: ~1 MB of text
    path = tmp_path / "submission.csv"
    pd.DataFrame({"case_id": ["10"], "annotation": [metric.format_annotation([mask])]}).to_csv(
        path, index=False)
    limit = csv.field_size_limit()
    assert metric.validate_submission(path, {"10": (400, 400)}).empty
    assert csv.field_size_limit() == limit


def test_read_submission_then_score(tmp_path):
    truth = {"10": [masks_of((3, 4), [(0, 0), (1, 0)])], "11": []}
    solution = pd.DataFrame({"case_id": list(truth),
                             "annotation": [metric.format_annotation(t) for t in truth.values()],
                             "shape": ["[3, 4]"] * 2})
    path = tmp_path / "submission.csv"
    solution[["case_id", "annotation"]].to_csv(path, index=False)
    submission = metric.read_submission(path)
    assert submission.to_dict("list") == {"line": [2, 3], "case_id": ["10", "11"],
                                          "annotation": ["[1, 2]", "authentic"]}
    assert metric.score(solution, submission) == 1.0
    path.write_text('case_id,annotation\n10,"[1, 2]"\n11,"[3, 1, 1, 1]"\n')
    with pytest.raises(SubmissionError, match="line 3") as info:
        metric.score(solution, metric.read_submission(path))
    assert info.value.line == 3 and info.value.case_id == "11"


def test_read_submission_refuses_a_row_with_unquoted_commas(tmp_path):
    path = tmp_path / "submission.csv"
    path.write_text("case_id,annotation\n10,authentic\n11,[1, 2]\n12,[3, 4]\n")
    with pytest.raises(SubmissionError, match="line 3.*2 such problem") as info:
        metric.read_submission(path)
    assert info.value.kind == "field_count" and info.value.line == 3


def test_docstring_examples_run():
    result = doctest.testmod(metric)
    assert result.attempted > 0 and result.failed == 0
