"""Tests of eda_lib.tables: the schema, frames that follow it, and their storage."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from eda_lib import tables
from eda_lib.tables import (
    PROBLEM_KINDS,
    SCHEMAS,
    Tables,
    frame,
    read_tables,
    schema_markdown,
    write_tables,
)


def test_tables_has_one_field_per_schema_and_measured_plus_derived_cover_them():
    assert sorted(f.name for f in dataclasses.fields(Tables)) == sorted(SCHEMAS)
    assert set(tables.MEASURED_TABLES) | set(tables.DERIVED_TABLES) == set(SCHEMAS)
    assert not set(tables.MEASURED_TABLES) & set(tables.DERIVED_TABLES)


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_empty_frame_keeps_columns_and_dtypes(name):
    df = frame(name, [])
    assert list(df.columns) == [c.name for c in SCHEMAS[name]]
    for column in SCHEMAS[name]:
        want = "string" if column.dtype == "str" else column.dtype
        assert str(df[column.name].dtype) == want, column.name


def test_frame_fills_missing_keys_with_nulls_and_refuses_unknown_ones():
    df = frame("problems", [{"path": "a.png", "kind": "empty_file"}])
    assert df.loc[0, "path"] == "a.png" and pd.isna(df.loc[0, "detail"])
    with pytest.raises(KeyError, match="kindd"):
        frame("problems", [{"path": "a.png", "kindd": "typo"}])


def test_frame_of_a_dataframe_equals_the_frame_of_its_rows():
    rows = [{"path": "a.png", "kind": "empty_file", "case_id": "7"},
            {"path": "b.png", "kind": "not_png", "detail": None}]
    df = pd.DataFrame(rows)
    pd.testing.assert_frame_equal(frame("problems", df), frame("problems", rows))
    pd.testing.assert_frame_equal(frame("problems", df.iloc[:0]), frame("problems", []))
    with pytest.raises(KeyError, match="kindd"):
        frame("problems", df.rename(columns={"kind": "kindd"}))


def test_extra_string_columns_follow_the_schema():
    df = frame("problems", [{"path": "a", "_sig": "x"}], extra_str=["_sig"])
    assert list(df.columns)[-1] == "_sig" and str(df["_sig"].dtype) == "string"


def test_problem_kinds_are_documented_in_the_schema_markdown():
    text = schema_markdown()
    for name, columns in SCHEMAS.items():
        assert f"### `{name}`" in text
        assert all(f"| `{c.name}` |" in text for c in columns)


def test_write_then_read_gives_the_same_tables(tmp_path):
    stored = {name: frame(name, []) for name in SCHEMAS}
    stored["images"] = frame("images", [
        {"case_id": "10", "split": "train", "label": "forged", "path": "train_images/forged/10.png",
         "width": 4, "height": 3, "aspect": 4 / 3, "mode": "RGB", "file_bytes": 99,
         "has_mask": True, "twin": False, "status": "ok"},
        {"case_id": "7", "split": "test", "label": "", "path": "test_images/7.png",
         "has_mask": False, "twin": False, "status": "truncated_image"},
    ])
    write_tables(stored, tmp_path / "tables")
    back = read_tables(tmp_path / "tables")
    for name in SCHEMAS:
        pd.testing.assert_frame_equal(getattr(back, name), stored[name], check_exact=True)
    assert (tmp_path / "tables" / "SCHEMA.md").read_text(encoding="utf-8") == schema_markdown()
    assert (tmp_path / "tables" / "images.csv").read_text(encoding="utf-8").startswith(
        "case_id,split,label,path,")


def test_screening_table_has_the_columns_its_readers_rely_on():
    """The columns the issue of the blind screen names, in this order, then the rest."""
    names = [c.name for c in SCHEMAS["screening"]]
    boxes = [f"{end}_{k}" for end in ("source", "target") for k in ("x1", "y1", "x2", "y2")]
    required = ["split", "label", "case_id", "pair", *boxes, "roles", "transform", "scale",
                "ncc", "residual_ncc", "identical_frac", "texture", "margin"]
    assert names[: len(required)] == required
    assert {"verdict", "reason", "annotation"} <= set(names)
    assert "screening_failed" in PROBLEM_KINDS
