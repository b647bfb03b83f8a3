"""Fixtures of the report tests."""

import pytest
from handmade import hand_dataset


@pytest.fixture
def hand_data(tmp_path):
    """``(cfg, t, arrays)`` of :func:`handmade.hand_dataset`."""
    return hand_dataset(tmp_path)
