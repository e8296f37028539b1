"""One definition per table: a tuple of `Column`s gives its Parquet schema, its rows
(exactly its columns, in order) and its sample JSON (the columns marked `sample`)."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True)
class Column:
    """One column: name, Arrow type, and whether the sample's JSON carries it too."""

    name: str
    type: pa.DataType
    sample: bool = False


def columns(names: tuple[str, ...] | list[str], type_: pa.DataType, sample: bool = False
            ) -> tuple[Column, ...]:
    """Several columns of one type."""
    return tuple(Column(name, type_, sample) for name in names)


def schema(table: tuple[Column, ...]) -> pa.Schema:
    return pa.schema([(column.name, column.type) for column in table])


def make_row(table: tuple[Column, ...], values: dict) -> dict:
    """`values` as a row of `table`; ValueError naming what is missing or extra."""
    names = [column.name for column in table]
    missing, extra = set(names) - values.keys(), values.keys() - set(names)
    if missing or extra:
        raise ValueError(f"row does not fit its table: missing {sorted(missing)}, "
                         f"extra {sorted(extra)}")
    return {name: values[name] for name in names}


def sample_names(table: tuple[Column, ...]) -> tuple[str, ...]:
    """The columns the sample's JSON carries, in table order."""
    return tuple(column.name for column in table if column.sample)
