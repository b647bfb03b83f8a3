"""Tests of eda_lib.files: atomic writes with the umask's permissions, and the data folder
never written."""

from __future__ import annotations

import os
import stat

import pandas as pd
import pytest

from eda_lib.config import make_config
from eda_lib.errors import ConfigError
from eda_lib.files import (
    LOCK_NAME,
    atomic_write,
    check_paths,
    out_dir_lock,
    write_bytes_atomic,
    write_csv_atomic,
    write_text_atomic,
)


@pytest.fixture
def umask():
    def set_umask(value: int) -> None:
        os.umask(value)

    old = os.umask(0o022)
    yield set_umask
    os.umask(old)


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_files_honour_the_umask(tmp_path, umask, mask, mode):
    umask(mask)
    text = write_text_atomic(tmp_path / "a.txt", "x")
    data = write_bytes_atomic(tmp_path / "b.bin", b"\0")
    other = atomic_write(tmp_path / "c.csv", lambda p: p.write_text("a,b\n", encoding="utf-8"))
    for path in (text, data, other):
        assert stat.S_IMODE(path.stat().st_mode) == mode, path


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = write_text_atomic(tmp_path / "page.html", "old")

    def broken(path):
        path.write_text("half", encoding="utf-8")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        atomic_write(target, broken)
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["page.html"]


def test_replacing_a_file_keeps_no_temporary(tmp_path):
    for text in ("one", "two"):
        write_text_atomic(tmp_path / "x.txt", text)
    assert [(p.name, p.read_text(encoding="utf-8")) for p in tmp_path.iterdir()] == [("x.txt", "two")]


@pytest.mark.parametrize("out", ["data", "data/reports", "data/./train_masks/.."])
def test_out_dir_inside_the_data_folder_is_refused(tmp_path, out):
    (tmp_path / "data" / "train_masks").mkdir(parents=True)
    cfg = make_config({"data_dir": tmp_path / "data", "out_dir": tmp_path / out})
    with pytest.raises(ConfigError, match="never written") as err:
        check_paths(cfg)
    assert err.value.key == "out_dir"


def test_out_dir_beside_the_data_folder_is_accepted(tmp_path):
    check_paths(make_config({"data_dir": tmp_path / "data", "out_dir": tmp_path / "data-out"}))


def test_a_csv_cell_holding_a_carriage_return_reads_back_whole(tmp_path):
    df = pd.DataFrame({"case_id": ["cr\rx", "nl\nx", "plain"], "n": [1, 2, 3]})
    path = write_csv_atomic(tmp_path / "t.csv", df)
    back = pd.read_csv(path, dtype={"case_id": str})
    assert back["case_id"].tolist() == df["case_id"].tolist() and back["n"].tolist() == [1, 2, 3]
    plain = write_csv_atomic(tmp_path / "p.csv", df.iloc[2:])
    assert plain.read_text(encoding="utf-8") == "case_id,n\nplain,3\n"  # quoted only at need


def test_a_second_run_into_a_folder_in_use_stops_at_once(tmp_path):
    out = tmp_path / "out"
    with out_dir_lock(out):
        with pytest.raises(ConfigError) as err:
            with out_dir_lock(out, "--out-dir PATH"):
                pass
        assert err.value.key == "out_dir"
        assert f"in use by another run (process {os.getpid()})" in str(err.value)
        assert "(--out-dir PATH)" in str(err.value)
    with out_dir_lock(out):  # released when the first run ended
        pass


def test_a_run_into_a_folder_in_use_is_refused_before_it_writes(tmp_path):
    from eda_lib.report import runner

    cfg = make_config({"data_dir": str(tmp_path / "data"), "out_dir": str(tmp_path / "out")})
    (cfg.data_dir / "train_images").mkdir(parents=True)
    with out_dir_lock(cfg.out_dir):
        with pytest.raises(ConfigError, match="in use by another run"):
            runner.run(cfg, progress=False)
    assert sorted(p.name for p in cfg.out_dir.iterdir()) == [LOCK_NAME]
