"""Open an output folder for auditing and read its tables (pyarrow only)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from irdata.errors import UsageError
from irdata.stages import dedupe, manifest
from irdata.storage import Output


def open_output(root: str) -> Output:
    """The output folder, or UsageError when it is missing or has no manifest."""
    try:
        out = Output(root)
        found = out.exists("")
    except (ValueError, ImportError, OSError) as exc:
        raise UsageError(f"{root}: cannot open: {exc}") from None
    if not found:
        raise UsageError(f"{root}: no such output folder")
    if not out.is_file(manifest.outputs(0)["shards"]):
        raise UsageError(f"{root}: no manifest (manifest/shards.parquet is missing): "
                         "is this a finished build?")
    return out


def read(out: Output, name: str, columns=None, filters=None) -> pa.Table | None:
    """A manifest table (`images`, `patches`, `shards`, `degradations`), None if absent."""
    rel = manifest.outputs(0)[name]
    return read_rel(out, rel, columns, filters)


def read_rel(out: Output, rel: str, columns=None, filters=None) -> pa.Table | None:
    if not out.is_file(rel):
        return None
    with out.fs.open(out.path(rel), "rb") as fh:
        return pq.read_table(fh, columns=columns, filters=filters)


def clusters(out: Output) -> pa.Table | None:
    """dedupe/clusters.parquet, None when dedupe did not run."""
    return read_rel(out, dedupe.CLUSTERS)


def run_record(out: Output) -> dict:
    """run.json, {} when absent."""
    return out.read_json("run.json") if out.is_file("run.json") else {}


def rows(table: pa.Table | None) -> list[dict]:
    return [] if table is None else table.to_pylist()
