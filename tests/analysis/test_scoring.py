"""Scoring submissions against a dataset folder, and the score / validate commands."""

from __future__ import annotations

import dataclasses
import os
import re
import stat
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from eda_lib import cli
from eda_lib.analysis import scoring, stats
from eda_lib.config import make_config
from eda_lib.datapass import load_tables
from eda_lib.dataset import demo, images, metric
from eda_lib.dataset.index import scan
from eda_lib.errors import ConfigError
from eda_lib.tables import frame


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


def test_a_submission_with_no_row_is_an_error_naming_it(data, tmp_path, capsys):
    sub = tmp_path / "s.csv"
    sub.write_text("case_id,annotation\n")
    with pytest.raises(ConfigError, match="names no image: it has a header and no row"):
        scoring.score_file(sub, data)
    assert cli.main(["score", str(sub), "--data-dir", str(data)]) == 2
    assert f"error: {sub} names no image" in capsys.readouterr().err


def _alone(data):
    """A forged training image without twin: its plain case_id names it too."""
    train = [e for e in scan(data).images if e.split == "train"]
    alone = [e.case_id for e in train if sum(f.case_id == e.case_id for f in train) == 1]
    assert alone, "the generated data has no forged image without twin"
    return alone[0]


def test_an_image_named_two_ways_is_one_image_to_score_and_validate(data, tmp_path):
    case = _alone(data)
    rows = [r for r in _perfect_rows(data) if r[0] != f"forged/{case}"]
    truth = dict(_perfect_rows(data))[f"forged/{case}"]
    plain = _submission(tmp_path / "plain.csv", [*rows, (case, truth)])
    value, details = scoring.score_file(plain, data)
    assert value == 1.0 and f"forged/{case}" in set(details["case_id"])
    assert scoring.validate_file(plain, data, split="train").empty
    twice = _submission(tmp_path / "twice.csv", [(case, "authentic"), (f"forged/{case}", truth)])
    with pytest.raises(ConfigError) as info:
        scoring.score_file(twice, data)
    assert str(info.value) == (f"{twice}: 1 row(s) name an image of an earlier row (line 3: "
                               f"forged/{case}, already on line 2 as {case}); keep one row "
                               "per image")
    problems = scoring.validate_file(twice, data, split="train")
    assert "unknown_case_id" not in set(problems["kind"])
    dup = problems[problems["kind"] == "duplicate_case_id"]
    assert dup["line"].tolist() == [3]
    assert dup["detail"].tolist() == [f"case forged/{case} is already on line 2 as {case}"]


def test_score_errors_name_the_file_and_its_lines(data, tmp_path):
    rows = _perfect_rows(data)
    dup = _submission(tmp_path / "dup.csv", [rows[0], rows[1], rows[0]])
    with pytest.raises(ConfigError) as info:
        scoring.score_file(dup, data)
    assert str(info.value) == (f"{dup}: 1 row(s) name an image of an earlier row (line 4: "
                               f"{rows[0][0]}, already on line 2); keep one row per image")
    unknown = _submission(tmp_path / "unknown.csv",
                          [rows[0], ("forged/1", "authentic"), ("x", "authentic")])
    with pytest.raises(ConfigError) as info:
        scoring.score_file(unknown, data)
    assert str(info.value).startswith(f"{unknown}: 2 row(s) name no training image (line 3: "
                                      "forged/1; line 4: x)")
    fold = _submission(tmp_path / "fold.csv", rows[:1])
    with pytest.raises(metric.SubmissionError) as info:
        scoring.score_file(fold, data, fold=0, k=3)
    assert re.match(rf"{re.escape(str(fold))}: case \S+ of the solution has no row",
                    str(info.value))


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


def test_validate_says_when_a_training_submission_is_checked_against_the_test_images(
        data, tmp_path, capsys):
    train = _submission(tmp_path / "train.csv", _perfect_rows(data))
    hint = "for a submission on training images add --split train"
    assert cli.main(["validate", str(train), "--data-dir", str(data)]) == 1
    assert hint in capsys.readouterr().out
    assert cli.main(["validate", str(train), "--data-dir", str(data), "--split", "train"]) == 0
    assert hint not in capsys.readouterr().out
    mixed = _submission(tmp_path / "mixed.csv", [*_perfect_rows(data)[:2], ("x", "authentic")])
    assert cli.main(["validate", str(mixed), "--data-dir", str(data)]) == 1
    assert hint not in capsys.readouterr().out  # "x" is no training name: no such guess


def test_score_warns_of_the_training_images_a_submission_leaves_out(data, tmp_path, capsys):
    rows = _perfect_rows(data)
    full = _submission(tmp_path / "full.csv", rows)
    part = _submission(tmp_path / "part.csv", rows[:-3])
    assert cli.main(["score", str(full), "--data-dir", str(data)]) == 0
    assert "warning" not in capsys.readouterr().err
    assert cli.main(["score", str(part), "--data-dir", str(data)]) == 0
    said = capsys.readouterr()
    assert f"over {len(rows) - 3} images (the images it names)" in said.out
    assert said.err.startswith(f"warning: 3 of the {len(rows)} training images have no row in "
                               f"{part} and are not scored, e.g. {rows[-3][0]}, ")
    assert f"validate {part} --data-dir {data} --split train lists them" in said.err
    fold_rows = set(scoring.fold_ids(data, 0, k=3))
    in_fold = _submission(tmp_path / "fold.csv", [r for r in rows if r[0] in fold_rows])
    assert cli.main(["score", str(in_fold), "--data-dir", str(data), "--fold", "0",
                     "--folds", "3"]) == 0
    assert capsys.readouterr().err == ""  # a fold's images are all scored or refused


def test_score_takes_a_number_of_folds_or_a_folds_file(data, tmp_path, capsys):
    good = _submission(tmp_path / "s.csv", _perfect_rows(data))
    n3 = len(scoring.fold_ids(data, 1, k=3))
    assert cli.main(["score", str(good), "--data-dir", str(data), "--fold", "1",
                     "--folds", "3"]) == 0
    assert f"over {n3} images (fold 1)" in capsys.readouterr().out
    ids = scoring.fold_ids(data, 1, k=3)
    folds = pd.DataFrame({"split": "train", "label": [i.split("/")[0] for i in ids],
                          "case_id": [i.split("/")[1] for i in ids], "fold": 1})
    folds.to_csv(tmp_path / "folds.csv", index=False)
    assert cli.main(["score", str(good), "--data-dir", str(data), "--fold", "1",
                     "--folds", str(tmp_path / "folds.csv")]) == 0
    assert f"over {n3} images (fold 1)" in capsys.readouterr().out


@pytest.mark.parametrize("content, words", [
    (None, "cannot be read"),
    ("", "cannot be read"),
    ("case_id,fold\n1,0\n", "no column split, label"),
    ("split,label,case_id,fold\ntrain,forged,1,x\n", "fold 0 holds no training image"),
])
def test_a_bad_folds_file_is_named_with_the_fix(data, tmp_path, capsys, content, words):
    good = _submission(tmp_path / "s.csv", _perfect_rows(data))
    path = tmp_path / "folds.csv"
    if content is not None:
        path.write_text(content)
    code = cli.main(["score", str(good), "--data-dir", str(data), "--fold", "0",
                     "--folds", str(path)])
    err = capsys.readouterr().err
    assert code == 2 and words in err
    if content is None or "column" in words:
        assert str(path) in err and "tables/folds.csv" in err


@pytest.mark.parametrize("argv, code, words", [
    (["--folds", "3"], 2, "--folds needs --fold K"),
    (["--fold", "0", "--folds", "1"], 2, "at least 2 folds"),
    (["--fold", "0", "--folds", "-2"], 2, "'-2': at least 2 folds"),
    (["--fold", "0", "--folds", "99999999999"], 2,
     "99999999999 folds asked for, but the labelled images form 10 leakage group(s)"),
])
def test_score_refuses_folds_it_cannot_use(data, tmp_path, capsys, argv, code, words):
    good = _submission(tmp_path / "s.csv", _perfect_rows(data))
    assert cli.main(["score", str(good), "--data-dir", str(data), *argv]) == code
    assert words in capsys.readouterr().err


# ------------------------------------------------------------------ the blind screen's baseline


@pytest.fixture(scope="module")
def screened(tmp_path_factory):
    """A generated dataset large enough for the screen to find copies, and a run folder."""
    tmp = tmp_path_factory.mktemp("baseline")
    root = tmp / "data"
    demo.generate(root, forged=8, seed=4, size_scale=0.5, supplemental=0)
    return root, tmp / "run"


def _baseline(screened, tmp_path, *extra):
    data, run_dir = screened
    out = tmp_path / "sub.csv"
    code = cli.main(["baseline", "--data-dir", str(data), "--out", str(out),
                     "--out-dir", str(run_dir), "--workers", "1", *extra])
    return code, out


def test_baseline_on_training_folds_is_what_section_9_reports(screened, tmp_path, capsys):
    data, run_dir = screened
    cfg = make_config({"data_dir": str(data), "out_dir": str(run_dir), "workers": 1})
    for fold in (0, 2):
        code, out = _baseline(screened, tmp_path, "--split", "train", "--fold", str(fold))
        assert code == 0
        # valid; only the other folds' images are missing
        problems = scoring.validate_file(out, data, split="train")
        assert set(problems["kind"]) <= {"missing_case_id"}
        folds = run_dir / "tables/folds.csv"
        value, details = scoring.score_file(out, data, fold, folds)
        t = load_tables(cfg, build=False)
        reported = stats.screen_by_fold(t.images, t.folds).set_index("fold")
        assert value == pytest.approx(reported.loc[str(fold), "oF1 blind screen"], abs=1e-12)
        assert len(details) == reported.loc[str(fold), "images"]
    said = capsys.readouterr().out
    assert "score it with: python -m eda_lib score" in said and "--fold 2" in said


def test_baseline_marks_copies_and_calls_the_rest_authentic(screened, tmp_path):
    data, run_dir = screened
    code, out = _baseline(screened, tmp_path, "--split", "train")
    assert code == 0
    assert scoring.validate_file(out, data, split="train").empty
    sub = metric.read_submission(out)
    t = load_tables(make_config({"data_dir": str(data), "out_dir": str(run_dir)}), build=False)
    train = t.images[t.images["split"] == "train"]
    assert sorted(sub["case_id"]) == sorted(train["label"] + "/" + train["case_id"])
    flagged = set(train.loc[train["screen_copies"] > 0, "label"] + "/"
                  + train.loc[train["screen_copies"] > 0, "case_id"])
    assert flagged, "the screen found nothing: the test data is too easy or too hard"
    assert set(sub.loc[sub["annotation"] != "authentic", "case_id"]) == flagged
    for row in sub[sub["annotation"] != "authentic"].itertuples():
        label, case = row.case_id.split("/")
        copies = t.screening[(t.screening["label"] == label) & (t.screening["case_id"] == case)
                             & (t.screening["verdict"] == "copy")]
        assert row.annotation.count(";") == len(copies) - 1


def test_baseline_for_the_test_split_names_every_test_image(screened, tmp_path):
    data, _ = screened
    code, out = _baseline(screened, tmp_path)
    assert code == 0
    assert scoring.validate_file(out, data, split="test").empty
    tests = {e.case_id for e in scan(data).images if e.split == "test"}
    assert set(metric.read_submission(out)["case_id"]) == tests


def test_baseline_refuses_bad_requests(screened, tmp_path, capsys):
    data, _ = screened
    code, _ = _baseline(screened, tmp_path, "--fold", "1")
    assert code == 2 and "--fold needs --split train: the test images have no folds" \
        in capsys.readouterr().err
    code, _ = _baseline(screened, tmp_path, "--fold", "1", "--split", "unlabelled")
    assert code == 2 and "the unlabelled images have no folds" in capsys.readouterr().err
    inside = data / "sub.csv"
    code = cli.main(["baseline", "--data-dir", str(data), "--out", str(inside)])
    assert code == 2 and not inside.exists()
    assert "never written" in capsys.readouterr().err
    code = cli.main(["baseline", "--data-dir", str(data), "--out", str(tmp_path / "s.csv"),
                     "--out-dir", str(data / "run")])
    err = capsys.readouterr().err
    assert code == 2 and not (data / "run").exists() and not (tmp_path / "s.csv").exists()
    assert "Choose a out_dir outside the data folder (--out-dir PATH)" in err and "-p" not in err


def test_validate_and_score_take_an_image_whose_header_cannot_be_read(data, tmp_path,
                                                                      monkeypatch):
    test_ids = sorted(e.case_id for e in scan(data).images if e.split == "test")
    sub = _submission(tmp_path / "s.csv", [(case, "authentic") for case in test_ids])
    locked = next(e.path for e in scan(data).images if e.split == "test")
    png_size = images.png_size

    def guarded(path):
        if str(path).endswith(locked):
            raise PermissionError(13, "Permission denied", str(path))
        return png_size(path)

    monkeypatch.setattr(images, "png_size", guarded)
    assert scoring.validate_file(sub, data, split="test").empty  # its id is still known
    rows = _perfect_rows(data)
    forged = next(e for e in scan(data).images if e.split == "train" and e.label == "forged")
    monkeypatch.setattr(images, "png_size", lambda path: (_ for _ in ()).throw(
        PermissionError(13, "Permission denied")) if str(path).endswith(forged.path)
        else png_size(path))
    with pytest.raises(ConfigError, match="cannot read the size of this training image"):
        scoring.score_file(_submission(tmp_path / "p.csv", rows), data)


def test_baseline_takes_the_number_of_folds_of_its_run(screened, tmp_path, capsys):
    data, run_dir = screened
    code, out = _baseline(screened, tmp_path, "--split", "train", "--fold", "1", "--folds", "3")
    assert code == 0
    folds = pd.read_csv(run_dir / "tables/folds.csv", dtype={"case_id": str})
    assert sorted(folds["fold"].unique()) == [0, 1, 2]  # the run's folds, three of them
    chosen = folds[(folds["fold"] == 1) & (folds["split"] == "train")]
    assert sorted(metric.read_submission(out)["case_id"]) == sorted(
        chosen["label"] + "/" + chosen["case_id"])
    assert f"--folds {run_dir / 'tables/folds.csv'}" in capsys.readouterr().out
    code, _ = _baseline(screened, tmp_path, "--split", "train", "--folds", "3")
    assert code == 2 and "--folds needs --fold K" in capsys.readouterr().err


def test_baseline_refuses_more_folds_than_groups(screened, tmp_path, capsys):
    data, _ = screened
    out = tmp_path / "sub.csv"
    code = cli.main(["baseline", "--data-dir", str(data), "--out", str(out), "--out-dir",
                     str(tmp_path / "run"), "--workers", "1", "--split", "train", "--fold",
                     "0", "--folds", "99999999999"])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert "99999999999 folds asked for" in err and "ask for 2 to" in err


def test_baseline_writes_into_a_new_folder_and_refuses_a_folder_as_its_file(screened, tmp_path,
                                                                          capsys):
    data, run_dir = screened
    out = tmp_path / "new" / "deeper" / "sub.csv"
    code = cli.main(["baseline", "--data-dir", str(data), "--out", str(out),
                     "--out-dir", str(run_dir), "--workers", "1"])
    assert code == 0 and scoring.validate_file(out, data, split="test").empty
    code = cli.main(["baseline", "--data-dir", str(data), "--out", str(tmp_path),
                     "--out-dir", str(run_dir), "--workers", "1"])
    assert code == 2 and "is a folder; name the file to write" in capsys.readouterr().err


def test_score_details_are_never_written_into_the_data_folder(data, tmp_path, capsys):
    good = _submission(tmp_path / "s.csv", _perfect_rows(data))
    inside = data / "details.csv"
    code = cli.main(["score", str(good), "--data-dir", str(data), "--details", str(inside)])
    assert code == 2 and not inside.exists() and "never written" in capsys.readouterr().err
    code = cli.main(["score", str(good), "--data-dir", str(data), "--details", str(tmp_path)])
    assert code == 2 and "details.csv" in capsys.readouterr().err
    deeper = tmp_path / "a" / "details.csv"
    assert cli.main(["score", str(good), "--data-dir", str(data), "--details", str(deeper)]) == 0
    assert len(pd.read_csv(deeper)) == len(_perfect_rows(data))


def test_baseline_submission_joins_the_copies_of_an_image(tables):
    screening = frame("screening", [
        {"split": "train", "label": "forged", "case_id": "10", "pair": 1, "verdict": "copy",
         "annotation": "[1, 2]"},
        {"split": "train", "label": "forged", "case_id": "10", "pair": 2, "verdict": "copy",
         "annotation": "[7, 1]"},
        {"split": "train", "label": "forged", "case_id": "10", "pair": 3,
         "verdict": "rejected", "reason": "text"},
        {"split": "train", "label": "authentic", "case_id": "25", "pair": 1,
         "verdict": "unsure", "reason": "weak_match"},
        {"split": "test", "label": "", "case_id": "45", "pair": 1, "verdict": "copy",
         "annotation": "[3, 3]"},
    ])
    t = dataclasses.replace(tables, screening=screening)
    sub = scoring.baseline_submission(t, "train").set_index("case_id")["annotation"]
    assert sub["forged/10"] == "[1, 2];[7, 1]"
    assert sub.drop("forged/10").eq("authentic").all()
    assert set(sub.index) == {"authentic/10", "forged/10", "authentic/25", "forged/25",
                              "forged/31"}
    test = scoring.baseline_submission(t, "test")
    assert test.to_dict("list") == {"case_id": ["45"], "annotation": ["[3, 3]"]}
    some = scoring.baseline_submission(t, "train", ["forged/10", "forged/31"])
    assert some["case_id"].tolist() == ["forged/10", "forged/31"]
    with pytest.raises(ConfigError, match="forged/99"):
        scoring.baseline_submission(t, "train", ["forged/99"])
    with pytest.raises(ConfigError, match="split"):
        scoring.baseline_submission(t, "val")


def test_outputs_never_replace_what_the_command_reads_or_a_special_file(screened, data,
                                                                        tmp_path, capsys):
    _, run_dir = screened
    good = _submission(tmp_path / "s.csv", _perfect_rows(data))
    before = good.read_bytes()
    code = cli.main(["score", str(good), "--data-dir", str(data), "--details", str(good)])
    assert code == 2 and good.read_bytes() == before
    assert "would overwrite the submission scored" in capsys.readouterr().err
    table = run_dir / "tables" / "images.csv"
    kept = table.read_bytes()
    code, _ = _baseline(screened, tmp_path, "--out", str(table))
    assert code == 2 and table.read_bytes() == kept
    assert "would overwrite the run's tables folder" in capsys.readouterr().err
    fifo = tmp_path / "fifo.csv"
    os.mkfifo(fifo)
    code = cli.main(["score", str(good), "--data-dir", str(data), "--details", str(fifo)])
    assert code == 2 and stat.S_ISFIFO(fifo.lstat().st_mode)
    assert "is a device, FIFO or socket, not a file" in capsys.readouterr().err


def test_an_output_through_a_link_writes_the_file_the_link_leads_to(data, tmp_path):
    good = _submission(tmp_path / "s.csv", _perfect_rows(data))
    (tmp_path / "real").mkdir()
    link = tmp_path / "details.csv"
    link.symlink_to(tmp_path / "real" / "details.csv")
    assert cli.main(["score", str(good), "--data-dir", str(data), "--details", str(link)]) == 0
    assert link.is_symlink() and len(pd.read_csv(tmp_path / "real" / "details.csv")) > 0


def test_a_place_that_cannot_be_written_is_one_error_line(data, tmp_path, capsys):
    good = _submission(tmp_path / "s.csv", _perfect_rows(data))
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code = cli.main(["baseline", "--data-dir", str(data), "--out", str(tmp_path / "o.csv"),
                     "--out-dir", str(blocker / "run"), "--workers", "1"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert "Traceback" not in err and str(blocker) in err
    long = tmp_path / ("x" * 300 + ".csv")
    code = cli.main(["score", str(good), "--data-dir", str(data), "--details", str(long)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "Traceback" not in err


def test_output_piped_into_a_reader_that_stops_early_ends_quietly():
    # the reader is gone before the command writes its first line
    run = subprocess.run(f"{sys.executable} -m eda_lib params | true", shell=True,
                         capture_output=True, text=True, timeout=120)
    assert run.stderr == ""
