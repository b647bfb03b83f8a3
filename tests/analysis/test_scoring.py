"""Scoring submissions against a dataset folder, and the score / validate commands."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from eda_lib import cli
from eda_lib.analysis import scoring
from eda_lib.dataset import demo, metric
from eda_lib.dataset.index import scan
from eda_lib.errors import ConfigError


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("scoring") / "data"
    demo.generate(root, forged=10, seed=2, size_scale=0.15, supplemental=0)
    return root


def _submission(path, rows):
    pd.DataFrame(rows, columns=["case_id", "annotation"]).to_csv(path, index=False)
    return path


def _perfect_rows(data):
    rows = []
    for e in scan(data).images:
        if e.split != "train":
            continue
        ann = "authentic"
        if e.mask_path:
            ann = metric.format_annotation(metric.truth_from_masks(np.load(data / e.mask_path)))
        rows.append((f"{e.label}/{e.case_id}", ann))
    return rows


def test_the_masks_themselves_score_one(data, tmp_path):
    sub = _submission(tmp_path / "s.csv", _perfect_rows(data))
    value, details = scoring.score_file(sub, data)
    assert value == 1.0 and len(details) == len(_perfect_rows(data))


def test_all_authentic_scores_the_authentic_share(data, tmp_path):
    rows = [(k, "authentic") for k, _ in _perfect_rows(data)]
    value, _ = scoring.score_file(_submission(tmp_path / "s.csv", rows), data)
    n_auth = sum(k.startswith("authentic/") for k, _ in rows)
    assert value == pytest.approx(n_auth / len(rows))


def test_fold_scoring_uses_the_fold_images(data, tmp_path):
    sub = _submission(tmp_path / "s.csv", _perfect_rows(data))
    ids = scoring.fold_ids(data, 0, k=3)
    value, details = scoring.score_file(sub, data, fold=0)
    assert value == 1.0 and len(details) == len(scoring.fold_ids(data, 0))
    assert ids and all("/" in i for i in ids)


def test_unknown_ids_are_named(data, tmp_path):
    sub = _submission(tmp_path / "s.csv", [("forged/1", "authentic")])
    with pytest.raises(ConfigError, match="forged/1"):
        scoring.score_file(sub, data)


def test_validate_against_test_images(data, tmp_path):
    assert scoring.validate_file(data / "sample_submission.csv", data).empty
    bad = _submission(tmp_path / "b.csv", [("123456", "[1 2]")])
    kinds = set(scoring.validate_file(bad, data)["kind"])
    assert {"unknown_case_id", "space_separated_rle", "missing_case_id"} <= kinds


def test_cli_exit_codes(data, tmp_path, capsys):
    good = _submission(tmp_path / "s.csv", _perfect_rows(data))
    assert cli.main(["score", str(good), "--data-dir", str(data),
                     "--details", str(tmp_path / "d.csv")]) == 0
    assert "oF1 1.000000" in capsys.readouterr().out
    assert (tmp_path / "d.csv").exists()
    assert cli.main(["validate", str(data / "sample_submission.csv"), "--data-dir", str(data)]) == 0
    bad = _submission(tmp_path / "b.csv", [("x", "[2, 1, 1, 1]")])
    assert cli.main(["validate", str(bad)]) == 1
    assert "descending" in capsys.readouterr().out
    assert cli.main(["score", str(bad), "--data-dir", str(data)]) == 2
