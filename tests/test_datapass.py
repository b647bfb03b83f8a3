import os
from concurrent.futures import ProcessPoolExecutor

import pandas as pd
import pytest

from eda_lib import datapass
from eda_lib.config import make_config
from eda_lib.datapass import (
    _WORKER_ENVIRONMENT,
    _pool_context,
    _worker_environment,
    ensure_tables,
    load_tables,
    measure_dataset,
)
from eda_lib.errors import ConfigError, TablesError
from eda_lib.tables import MEASURED_TABLES, SCHEMAS, frame


def _cfg(root, tmp_path, **kw):
    return make_config({"data_dir": str(root), "out_dir": str(tmp_path / "out"),
                        "workers": 1, "progress": False, **kw})


def test_tables_agree_with_tiny_dataset(tiny_dataset, tmp_path):
    t = measure_dataset(_cfg(tiny_dataset, tmp_path), progress=False)
    img = t["images"].set_index(["split", "label", "case_id"])
    assert len(img) == 6
    assert img.loc[("train", "forged", "10"), ["width", "height", "mode"]].tolist() == [60, 40, "RGB"]
    assert img.loc[("train", "authentic", "10"), "mode"] == "RGBA"
    assert img.loc[("train", "forged", "25"), "mode"] == "L"
    assert bool(img.loc[("train", "forged", "10"), "has_mask"])
    assert not bool(img.loc[("train", "authentic", "10"), "has_mask"])
    assert not bool(img.loc[("train", "forged", "31"), "has_mask"])
    masks = t["masks"].set_index("case_id")
    got = masks.loc["10", ["n_instances", "union_px", "shape", "status"]].tolist()
    assert got == [1, 30, "1x40x60", "ok"]
    assert masks.loc["25", "n_instances"] == 2 and masks.loc["25", "union_px"] == 13
    assert masks.loc["25", "union_frac"] == 13 / 900
    assert masks.loc["77", "status"] == "orphan"
    inst = t["instances"]
    got = inst[["case_id", "instance", "area_px"]].values.tolist()
    assert got == [["10", 1, 30], ["25", 1, 4], ["25", 2, 9]]
    assert set(t["problems"]["kind"]) == {"missing_mask", "orphan_mask"}


def test_parallel_equals_serial(tiny_dataset, tmp_path):
    a = measure_dataset(_cfg(tiny_dataset, tmp_path), progress=False)
    b = measure_dataset(_cfg(tiny_dataset, tmp_path, workers=2), progress=False)
    for name in MEASURED_TABLES:
        pd.testing.assert_frame_equal(a[name], b[name])


def test_ensure_tables_reuses_until_data_changes(tiny_dataset, tmp_path):
    cfg = _cfg(tiny_dataset, tmp_path)
    assert ensure_tables(cfg) is True
    assert ensure_tables(cfg) is False
    assert ensure_tables(cfg.replace(display_size=100)) is False  # display only
    (tiny_dataset / "test_images/46.png").write_bytes((tiny_dataset / "test_images/45.png").read_bytes())
    assert ensure_tables(cfg) is True
    t = load_tables(cfg)
    assert len(t.images) == 7
    for name in SCHEMAS:  # parquet round trip keeps the schema
        assert list(getattr(t, name).columns) == [c.name for c in SCHEMAS[name]]


def test_empty_tables_keep_columns_and_dtypes():
    df = frame("instances", [])
    assert list(df.columns) == [c.name for c in SCHEMAS["instances"]]
    assert str(df["area_px"].dtype) == "Int64"


def test_schedule_sends_large_cases_first_and_groups_small_ones():
    from eda_lib.datapass import Case, _schedule
    from eda_lib.dataset.index import ImageEntry

    sizes = [5000, 40, 300, 40_000, 10, 700, 3000] + [20] * 40
    cases = [Case("train", str(i), [ImageEntry(str(i), "train", "forged", f"{i}.png")],
                  nbytes=n) for i, n in enumerate(sizes)]
    # a missing file counts 0 bytes (measure_dataset's stat finds nothing)
    cases.append(Case("train", "gone", [ImageEntry("gone", "train", "forged", "gone.png")]))
    tasks = _schedule(cases, workers=2)
    flat = [c for task in tasks for c in task]
    assert sorted(id(c) for c in flat) == sorted(id(c) for c in cases)  # each case once
    assert [c.case_id for c in flat[:4]] == ["3", "0", "6", "5"]  # largest first
    assert [len(t) for t in tasks[:2]] == [1, 1]  # a large case is a task of its own
    assert all(len(t) <= 16 for t in tasks) and len(tasks[-1]) > 1  # small ones grouped


def test_worker_environment_fills_in_only_what_the_caller_left_unset(monkeypatch):
    for name in _WORKER_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "4")
    with _worker_environment():
        inside = {name: os.environ.get(name) for name in _WORKER_ENVIRONMENT}
    after = {name: os.environ.get(name) for name in _WORKER_ENVIRONMENT}
    assert inside == {**_WORKER_ENVIRONMENT, "OPENBLAS_NUM_THREADS": "4"}
    assert after == {name: "4" if name == "OPENBLAS_NUM_THREADS" else None
                     for name in _WORKER_ENVIRONMENT}


def test_pass_workers_run_in_the_worker_environment():
    names = sorted(_WORKER_ENVIRONMENT)
    with _worker_environment():
        expected = [os.environ[name] for name in names]
        with ProcessPoolExecutor(2, mp_context=_pool_context()) as pool:
            seen = list(pool.map(os.getenv, names))
    assert seen == expected


def test_load_tables_builds_missing_tables_when_asked_and_refuses_otherwise(tiny_dataset, tmp_path):
    cfg = _cfg(tiny_dataset, tmp_path)
    with pytest.raises(TablesError, match="missing") as err:
        load_tables(cfg, build=False)
    assert err.value.folder == cfg.out_dir / "tables"
    assert not (cfg.out_dir / "tables").exists()  # nothing measured
    assert len(load_tables(cfg).images) == 6  # by hand: the pass runs
    assert len(load_tables(cfg, build=False).images) == 6


def test_load_tables_for_the_runner_reads_matching_tables_without_walking_the_data(
        tiny_dataset, tmp_path, monkeypatch):
    cfg = _cfg(tiny_dataset, tmp_path)
    ensure_tables(cfg)

    def walk(data_dir):
        raise AssertionError("the data folder was walked")

    monkeypatch.setattr(datapass, "fingerprint", walk)
    assert len(load_tables(cfg.replace(display_size=100), build=False).images) == 6
    with pytest.raises(TablesError, match="other data or parameters"):
        load_tables(cfg.replace(copy_move_max_side=512), build=False)


def test_a_notebook_opened_by_hand_sees_the_data_as_it_is_now(tiny_dataset, tmp_path,
                                                              monkeypatch):
    cfg = _cfg(tiny_dataset, tmp_path)
    ensure_tables(cfg)
    passes = []
    measure = datapass.measure_dataset
    monkeypatch.setattr(datapass, "measure_dataset",
                        lambda *a, **kw: passes.append(1) or measure(*a, **kw))
    assert len(load_tables(cfg.replace(display_size=100)).images) == 6 and passes == []
    (tiny_dataset / "test_images" / "45.png").unlink()  # deleted since the tables were made
    assert len(load_tables(cfg).images) == 5 and passes == [1]


@pytest.mark.parametrize("change", [{"copy_move": False}, {"folds": 3}])
def test_load_tables_without_build_refuses_tables_made_otherwise(tiny_dataset, tmp_path, change):
    cfg = _cfg(tiny_dataset, tmp_path)
    ensure_tables(cfg)
    with pytest.raises(TablesError, match="other data or parameters"):
        load_tables(cfg.replace(**change), build=False)


def test_a_removed_table_file_counts_as_missing(tiny_dataset, tmp_path):
    cfg = _cfg(tiny_dataset, tmp_path)
    ensure_tables(cfg)
    (cfg.out_dir / "tables" / "folds.parquet").unlink()
    with pytest.raises(TablesError):
        load_tables(cfg, build=False)
    assert len(load_tables(cfg).folds) > 0


def test_a_deleted_or_changed_csv_copy_is_written_again_without_a_pass(tiny_dataset, tmp_path):
    cfg = _cfg(tiny_dataset, tmp_path)
    assert ensure_tables(cfg) is True
    folder = cfg.out_dir / "tables"
    copies = {p.name: p.read_bytes() for p in folder.iterdir()
              if p.suffix == ".csv" or p.name == "SCHEMA.md"}
    assert "images.csv" in copies and "SCHEMA.md" in copies
    (folder / "images.csv").unlink()
    (folder / "SCHEMA.md").unlink()
    (folder / "folds.csv").write_text("garbage\n", encoding="utf-8")
    assert ensure_tables(cfg) is False  # no pass: the tables themselves are intact
    assert {name: (folder / name).read_bytes() for name in copies} == copies
    assert ensure_tables(cfg) is False


def test_an_out_dir_that_cannot_be_made_is_a_config_error_naming_it(tiny_dataset, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cfg = make_config({"data_dir": str(tiny_dataset), "out_dir": str(blocker / "out"),
                       "workers": 1, "progress": False})
    with pytest.raises(ConfigError, match="cannot write to out_dir") as err:
        load_tables(cfg)  # a notebook opened by hand builds its tables
    assert err.value.key == "out_dir" and "parameters cell" in str(err.value)
