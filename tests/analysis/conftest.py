"""Fixtures of the analysis tests: the tables of the tiny hand-made dataset."""

import pytest

from eda_lib.config import make_config
from eda_lib.datapass import load_tables


@pytest.fixture
def tables(tiny_dataset, tmp_path):
    """The tables of ``tiny_dataset`` (see ``tests/conftest.py``), built by the data pass."""
    cfg = make_config({"data_dir": str(tiny_dataset), "out_dir": str(tmp_path / "out"),
                       "workers": 1, "progress": False})
    return load_tables(cfg)
