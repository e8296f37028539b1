"""Each table has one definition (irdata.rows): schema, rows and sample JSON agree."""

from __future__ import annotations

import dataclasses

import pyarrow as pa
import pytest

from irdata.inspection import Inspection
from irdata.patching import cells
from irdata.rows import Column, make_row, sample_names, schema
from irdata.stages import fetch


def test_a_row_must_fit_its_table():
    table = (Column("a", pa.int32(), True), Column("b", pa.string()))
    assert list(make_row(table, {"b": "x", "a": 1})) == ["a", "b"]
    with pytest.raises(ValueError, match=r"missing \['b'\], extra \['c'\]"):
        make_row(table, {"a": 1, "c": 2})
    assert sample_names(table) == ("a",) and schema(table).names == ["a", "b"]


def test_every_inspection_figure_is_an_image_column():
    """An Inspection field without a column (or a column the inspection should fill
    but does not know) would silently be lost from the images table."""
    inspected = {f.name for f in dataclasses.fields(Inspection)} - set(fetch.OUTCOME_COLUMNS)
    assert inspected == set(fetch.INSPECTED)
    assert set(fetch.BLANK_IS_NULL) <= inspected


def test_sample_json_carries_the_marked_columns():
    image = {name: f"v-{name}" for name in fetch.SCHEMA.names}
    image["extra"] = '{"k": 1}'
    sample = fetch._sample_json(image)
    assert set(sample) == set(sample_names(fetch.COLUMNS)) and sample["extra"] == {"k": 1}
    assert {"status", "attempts", "partition", "shard"}.isdisjoint(sample)
    patch = {name: f"p-{name}" for name in cells.SCHEMA.names}
    lineage = cells.sample_json(image, patch)
    assert set(lineage) == set(cells.FROM_IMAGE) | set(sample_names(cells.COLUMNS))
    assert lineage["locator"] == "v-locator" and lineage["x"] == "p-x"
