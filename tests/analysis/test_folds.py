import pandas as pd
import pytest

from eda_lib.analysis.folds import (
    check_fold_count,
    empty_folds_note,
    fold_balance,
    grouped_folds,
    leakage_groups,
)
from eda_lib.errors import ConfigError


def _images(rows):
    return pd.DataFrame(rows, columns=["split", "label", "case_id"])


@pytest.fixture
def data():
    images = _images(
        [("train", "authentic", str(i)) for i in range(0, 40)]
        + [("train", "forged", str(i)) for i in range(0, 60)]
        + [("test", "", "999")]
    )
    masks = pd.DataFrame({"split": "train", "case_id": [str(i) for i in range(60)],
                          "n_instances": [1 + (i % 3) for i in range(60)]})
    dups = pd.DataFrame({  # forged 50 and 51 are the same figure; so are authentic 1 and 2
        "split": "train", "label": ["forged", "forged", "authentic", "authentic"],
        "case_id": ["50", "51", "1", "2"], "kind": ["exact", "exact", "near", "near"],
        "dup_group": [0, 0, 0, 0]})
    return images, masks, dups


def test_groups_join_twins_and_duplicates(data):
    images, _, dups = data
    g = leakage_groups(images, dups).set_index(["label", "case_id"])["group"]
    assert g[("authentic", "7")] == g[("forged", "7")]  # twins
    assert g[("forged", "50")] == g[("forged", "51")]  # exact duplicates across case_ids
    assert g[("authentic", "1")] == g[("authentic", "2")] == g[("forged", "1")] == g[("forged", "2")]
    assert g[("forged", "45")] != g[("forged", "46")]
    assert "999" not in set(leakage_groups(images)["case_id"])  # test images are not grouped
    reasons = leakage_groups(images, dups).set_index(["label", "case_id"])["reason"]
    assert reasons[("forged", "50")] == "exact duplicate"
    assert reasons[("authentic", "1")] == "near duplicate; twin"
    assert reasons[("forged", "45")] == ""


@pytest.mark.parametrize("k", [2, 5])
def test_folds_never_split_a_group_and_are_balanced(data, k):
    images, masks, dups = data
    groups = leakage_groups(images, dups)
    folds = grouped_folds(images, masks, groups, k=k, seed=3)
    assert folds.groupby("group")["fold"].nunique().max() == 1
    assert set(folds["fold"]) == set(range(k))
    balance = fold_balance(folds).drop(index="total", columns="total")
    for stratum in balance.columns:  # every stratum within 2 groups' worth of even
        col = balance[stratum]
        assert col.max() - col.min() <= 4, stratum


def test_folds_are_deterministic(data):
    images, masks, dups = data
    groups = leakage_groups(images, dups)
    a = grouped_folds(images, masks, groups, k=5, seed=1)
    pd.testing.assert_frame_equal(a, grouped_folds(images, masks, groups, k=5, seed=1))


def test_k_must_be_at_least_two(data):
    images, masks, _ = data
    with pytest.raises(ValueError):
        grouped_folds(images, masks, leakage_groups(images), k=1)


def test_empty_folds_are_named_with_the_fix():
    folds = pd.DataFrame({"split": ["train"] * 4 + ["supplemental"], "group": [0, 0, 1, 2, 3],
                          "fold": [0, 0, 1, 2, 4]})
    assert empty_folds_note(folds, 3) == "3 folds, each holding images: 1 to 2 per fold."
    note = empty_folds_note(folds, 8)
    assert "8 folds asked for, 4 hold images" in note and "4 groups" in note
    assert "Empty: fold(s) 3, 5 .. 7;" in note and "at most 4" in note


def test_more_folds_than_groups_cost_nothing_and_are_named_with_the_fix(data):
    images, masks, dups = data
    groups = leakage_groups(images, dups)
    n = groups["group"].nunique()
    folds = grouped_folds(images, masks, groups, k=10**11, seed=3)  # no (k, strata) array
    assert sorted(folds["fold"].unique()) == list(range(n))
    note = empty_folds_note(folds, 10**11)
    assert f"Empty: fold(s) {n} .. {10**11 - 1};" in note and f"at most {n}" in note
    check_fold_count(n, n)
    with pytest.raises(ConfigError, match=f"{n + 1} folds asked for, but the labelled images "
                                          f"form {n} leakage group.*ask for 2 to {n} folds"):
        check_fold_count(n + 1, n)
    with pytest.raises(ConfigError, match="too few to make 2 folds"):
        check_fold_count(2, 1)
