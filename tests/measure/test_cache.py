"""The per-case cache: unchanged files are never measured twice, changed ones always are."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pandas as pd
import pytest

from eda_lib import trace
from eda_lib.config import make_config
from eda_lib.datapass import measure_dataset
from eda_lib.dataset import demo
from eda_lib.measure import cache
from eda_lib.tables import MEASURED_TABLES


@pytest.fixture
def data(tmp_path):
    root = tmp_path / "data"
    demo.generate(root, forged=8, seed=4, size_scale=0.15, supplemental=1)
    return root


@pytest.fixture
def traced(tmp_path, monkeypatch):
    """Read the files decoded or loaded since the last call."""
    log = tmp_path / "trace.log"
    monkeypatch.setenv(trace.ENV, str(log))

    def reads() -> list[str]:
        if not log.exists():
            return []
        lines = log.read_text(encoding="utf-8").splitlines()
        log.unlink()
        return [line.split("\t")[1] for line in lines]

    return reads


def _cfg(data, tmp_path, **kw):
    return make_config({"data_dir": str(data), "out_dir": str(tmp_path / "out"), "workers": 1,
                        "progress": False, **kw})


def _equal(a, b):
    for name in MEASURED_TABLES:
        pd.testing.assert_frame_equal(a[name], b[name], check_dtype=True)


def test_warm_pass_reads_no_file_and_gives_the_same_tables(data, tmp_path, traced):
    cfg = _cfg(data, tmp_path)
    cold = measure_dataset(cfg, progress=False)
    first = traced()
    files = [p for p in data.rglob("*") if p.suffix in (".png", ".npy")]
    assert sorted(first) == sorted(map(str, files))  # every file read exactly once
    warm = measure_dataset(cfg, progress=False)
    assert traced() == []
    _equal(cold, warm)
    # display parameters do not change what the pass measures
    measure_dataset(cfg.replace(seed=1, display_size=100, grid_size=50), progress=False)
    assert traced() == []


def test_one_changed_added_or_deleted_file_recomputes_its_case_only(data, tmp_path, traced):
    cfg = _cfg(data, tmp_path)
    measure_dataset(cfg, progress=False)
    traced()
    forged = sorted((data / "train_images/forged").glob("*.png"))
    changed = forged[0]
    os.utime(changed, ns=(changed.stat().st_atime_ns, changed.stat().st_mtime_ns + 10**9))
    measure_dataset(cfg, progress=False)
    case = changed.stem
    reads = traced()
    assert str(changed) in reads
    assert {os.path.basename(p) for p in reads} <= {f"{case}.png", f"{case}.npy"}

    added = data / "test_images/99999.png"
    shutil.copy(forged[1], added)
    tables = measure_dataset(cfg, progress=False)
    assert traced() == [str(added)]
    assert "99999" in set(tables["images"]["case_id"])

    added.unlink()
    tables = measure_dataset(cfg, progress=False)
    assert traced() == []
    assert "99999" not in set(tables["images"]["case_id"])
    _equal(tables, measure_dataset(cfg, progress=False, use_cache=False))


def test_pass_parameters_invalidate_the_cache(data, tmp_path, traced):
    cfg = _cfg(data, tmp_path)
    measure_dataset(cfg, progress=False)
    n = len(traced())
    measure_dataset(cfg.replace(copy_move_max_side=512), progress=False)
    assert len(traced()) == n


def test_screening_parameters_invalidate_the_cache(data, tmp_path, traced):
    cfg = _cfg(data, tmp_path)
    measure_dataset(cfg, progress=False)
    n = len(traced())
    off = measure_dataset(cfg.replace(screening=False), progress=False)
    assert len(traced()) == n and off["screening"].empty
    measure_dataset(cfg.replace(screening_max_side=768), progress=False)
    assert len(traced()) == n


def test_changed_tuning_invalidates_the_cache(data, tmp_path, traced, monkeypatch):
    cfg = _cfg(data, tmp_path)
    measure_dataset(cfg, progress=False)
    n = len(traced())
    monkeypatch.setattr(cache, "TUNING_DIGEST", "another")
    measure_dataset(cfg, progress=False)
    assert len(traced()) == n


def test_no_cache_reads_everything(data, tmp_path, traced):
    cfg = _cfg(data, tmp_path)
    measure_dataset(cfg, progress=False)
    n = len(traced())
    measure_dataset(cfg, progress=False, use_cache=False)
    assert len(traced()) == n


@pytest.mark.parametrize("damage", ["garbage", "columns", "rows"])
def test_corrupt_cache_is_rebuilt_not_trusted(data, tmp_path, traced, damage):
    cfg = _cfg(data, tmp_path)
    good = measure_dataset(cfg, progress=False)
    n = len(traced())
    target = cfg.cache_path / "instances.parquet"
    if damage == "garbage":
        target.write_bytes(b"PAR1 this is not parquet")
    elif damage == "columns":
        pd.read_parquet(target).drop(columns=["area_px"]).to_parquet(target)
    else:  # readable, the right columns, a case's rows gone: as two passes' files mixed
        target = cfg.cache_path / "images.parquet"
        rows = pd.read_parquet(target)
        rows[rows["_case"] != rows["_case"].iloc[0]].to_parquet(target, index=False)
    with pytest.warns(UserWarning, match="rebuild"):
        again = measure_dataset(cfg, progress=False)
    assert len(traced()) == n
    _equal(good, again)


def test_cache_dir_parameter(data, tmp_path):
    cfg = _cfg(data, tmp_path, cache_dir=str(tmp_path / "elsewhere"))
    measure_dataset(cfg, progress=False)
    assert (tmp_path / "elsewhere" / "images.parquet").exists()
    assert not (cfg.out_dir / "cache").exists()


# ------------------------------------------------------------------ display views


def test_views_round_trip_exactly(tmp_path):
    rng = np.random.default_rng(0)
    views = {"rgb_forged": rng.integers(0, 256, (7, 9, 3), dtype=np.uint8),
             "size_forged": np.array([70, 90]), "masks": rng.random((2, 7, 9)) > 0.5,
             "union_frac": np.array(0.25)}
    cache.save_views(tmp_path, "abc", views)
    back = cache.read_views(tmp_path, "abc", list(views))
    assert set(back) == set(views)
    for key, value in views.items():
        assert back[key].dtype == value.dtype and np.array_equal(back[key], value), key
    assert set(cache.read_views(tmp_path, "abc", ["masks"])) == {"masks"}
    assert cache.read_views(tmp_path, "abc", ["rgb_authentic"]) is None  # not stored
    assert cache.read_views(tmp_path, "other", ["masks"]) is None  # no file
    cache.views_path(tmp_path, "abc").write_bytes(b"garbage")
    assert cache.read_views(tmp_path, "abc", ["masks"]) is None  # damaged: as missing


def test_every_case_has_its_views_and_gone_cases_lose_theirs(data, tmp_path, traced):
    cfg = _cfg(data, tmp_path)
    measure_dataset(cfg, progress=False)
    traced()
    folder = cfg.cache_path / cache.VIEWS_DIR
    stored = {p.stem for p in folder.glob("*.npz")}
    frames = cache.load(cfg.cache_path)
    assert stored == {sig for _, _, sig in cache.cached_cases(frames)}
    forged = sorted((data / "train_images/forged").glob("*.png"))[0]
    os.utime(forged, ns=(forged.stat().st_atime_ns, forged.stat().st_mtime_ns + 10**9))
    measure_dataset(cfg, progress=False)
    traced()
    now = {p.stem for p in folder.glob("*.npz")}
    assert len(now) == len(stored) and len(now - stored) == 1  # the changed case's, replaced


def test_a_case_without_its_views_is_measured_again(data, tmp_path, traced):
    cfg = _cfg(data, tmp_path)
    cold = measure_dataset(cfg, progress=False)
    traced()
    forged = sorted((data / "train_images/forged").glob("*.png"))[0]
    frames = cache.load(cfg.cache_path)
    images = frames["images"]
    sig = images.loc[images["path"].str.endswith(f"forged/{forged.name}"), "_sig"].iloc[0]
    cache.views_path(cfg.cache_path, sig).unlink()
    again = measure_dataset(cfg, progress=False)
    reads = traced()
    assert str(forged) in reads
    assert {os.path.basename(p) for p in reads} <= {forged.name, f"{forged.stem}.npy"}
    assert cache.views_path(cfg.cache_path, sig).exists()
    _equal(cold, again)
