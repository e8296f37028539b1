"""Patch stage: the cells of unique images -> patches/NNNNN.{tar,parquet,stats.json}.

Copies the fetch stage's cells of images dedupe did not mark duplicate; where those are
missing or cut with other `patch` settings, it cuts the raw images again, to the same
bytes. Every grid cell gets a row; the partition's cells files go once it is done."""

from __future__ import annotations

import io
import json
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from irdata import shards
from irdata.imaging.decode import DecodeError, decode_rgb
from irdata.keys import partition_name
from irdata.patching import cells as cells_mod
from irdata.patching.cells import SCHEMA, CellWriter, PatchRows
from irdata.stages import dedupe, fetch
from irdata.stages.ordered import ordered_map
from irdata.storage import Output, deferred_uploads

__all__ = ["SCHEMA", "outputs", "run_partition", "shard_record"]
STAGE = "patch"
FOLDER = "patches"


def outputs(index: int) -> dict[str, str]:
    name = partition_name(index)
    return {"tar": f"{FOLDER}/{name}.tar", "parquet": f"{FOLDER}/{name}.parquet",
            "stats": f"{FOLDER}/{name}.stats.json", "done": f"{FOLDER}/{name}.done"}


def _usable_rows(out: Output, index: int, duplicates: set[str]) -> tuple[dict, int]:
    rows = pq.read_table(io.BytesIO(out.read_bytes(fetch.outputs(index)["parquet"]))).to_pylist()
    ok = [row for row in rows if row["status"] == "ok"]
    wanted = {row["image_id"]: row for row in ok if row["image_id"] not in duplicates}
    return wanted, len(ok) - len(wanted)


# -- the cells cut by the fetch stage ------------------------------------------------------

def _cells_table(out: Output, index: int, settings: dict) -> pa.Table | None:
    """The partition's cell rows, if present and cut with these `patch` settings."""
    data = out.read_optional(fetch.outputs(index)["cells_parquet"])
    if data is None or not out.is_file(fetch.outputs(index)["cells_tar"]):
        return None
    table = pq.read_table(io.BytesIO(data))
    cut_with = (table.schema.metadata or {}).get(b"irdata.patch", b"null")
    return table if json.loads(cut_with) == settings else None


def _keep_rows(table: pa.Table, wanted: dict, rows: PatchRows) -> Counter:
    """The cell rows of wanted images, listed in the patch shard."""
    for record in table.to_pylist():
        if record["image_id"] in wanted:
            rows.adopt(record)
    return Counter(cut=rows.images())


def _keep_cells(out: Output, index: int, table: pa.Table, wanted: dict,
                shard: shards.ShardFile, rows: PatchRows) -> Counter:
    """Copy the cells of wanted images: their rows, then their samples, unchanged."""
    images = _keep_rows(table, wanted, rows)
    for key, sample in shards.samples(out, fetch.outputs(index)["cells_tar"]):
        if key.split("_")[0] in wanted:
            shard.add(key, sample)
    return images


def _adopt_cells(out: Output, index: int, table: pa.Table, wanted: dict,
                 rows: PatchRows) -> tuple[Counter, dict] | None:
    """If every image of the cells table is wanted, the cells tar is the patch shard byte
    for byte: move it into place and take its rows. None when some cells must go."""
    shard = json.loads((table.schema.metadata or {}).get(b"irdata.cells_shard", b"null"))
    if shard is None or not set(table.column("image_id").to_pylist()) <= wanted.keys():
        return None
    images = _keep_rows(table, wanted, rows)
    out.makedirs(FOLDER)
    out.move(fetch.outputs(index)["cells_tar"], rows.shard, shard["bytes"])
    return images, shard


# -- cutting the raw images again --------------------------------------------------------

def _decode(row: dict, data: bytes) -> tuple[np.ndarray | None, str]:
    try:
        pixels = decode_rgb(data, row["format"])
    except DecodeError as err:
        return None, err.reason
    if pixels.shape[:2] != (row["height"], row["width"]):
        return None, "size_mismatch"
    return pixels, ""


def _cut_one(got: tuple[dict, bytes], settings: dict) -> tuple[dict, list | None, str]:
    row, data = got
    pixels, problem = _decode(row, data)
    if pixels is None:
        return row, None, problem
    regions = json.loads(row.get("excluded_regions") or "[]")  # as fetch cut them
    return row, cells_mod.cut(pixels, settings, excluded=regions), problem


def _cut_again(out: Output, index: int, wanted: dict, cutter: CellWriter,
               config: dict) -> tuple[Counter, dict[str, str]]:
    """Decode and cut every wanted image of the raw shard, in the shard's order."""
    images: Counter = Counter()
    failed: dict[str, str] = {}
    samples = ((wanted[name.partition(".")[0]], data)
               for name, data in shards.members(out, fetch.outputs(index)["tar"])
               if not name.endswith(".json") and name.partition(".")[0] in wanted)
    for row, cells, problem in ordered_map(lambda got: _cut_one(got, config["patch"]),
                                           samples, config["inspect"]["threads"],
                                           name="irdata-patch"):
        images[problem or "cut"] += 1
        if problem:
            failed[row["image_id"]] = problem
        else:
            cutter.add(row, cells)
    return images, failed


def _remove_cells(out: Output, index: int) -> None:
    """The partition's cells files, where present (the tar may have moved into place)."""
    out.remove([fetch.outputs(index)["cells_tar"], fetch.outputs(index)["cells_parquet"]])


def _write_shard(out: Output, index: int, table: pa.Table | None, wanted: dict,
                 config: dict) -> tuple[PatchRows, Counter, dict, dict]:
    """The patch shard written afresh: wanted cells copied, or cut again."""
    failed: dict[str, str] = {}
    rel = outputs(index)["tar"]
    with shards.ShardFile(out, rel) as shard:
        if table is not None:
            rows = PatchRows(rel)
            images = _keep_cells(out, index, table, wanted, shard, rows)
        else:
            cutter = CellWriter(shard, rel, config["patch"]["size"])
            images, failed = _cut_again(out, index, wanted, cutter, config)
            rows = cutter.rows
    return rows, images, failed, shard.record


def run_partition(config: dict, out_root: str, index: int) -> dict:
    """Patch rows and samples for every unique usable image of one raw shard."""
    out = Output(out_root, config["storage_options"])
    with deferred_uploads():  # the cells go only once the patch shard is stored
        stats = _patch_partition(config, out, index)
    _remove_cells(out, index)
    return stats


def _patch_partition(config: dict, out: Output, index: int) -> dict:
    paths = outputs(index)
    wanted, duplicates = _usable_rows(out, index, dedupe.read_duplicates(out))
    table = _cells_table(out, index, config["patch"])
    rows = PatchRows(paths["tar"])
    adopted = None if table is None else _adopt_cells(out, index, table, wanted, rows)
    if adopted:
        images, found = adopted
        shard = {"path": paths["tar"], **found}
        failed: dict[str, str] = {}
    else:
        rows, images, failed, shard = _write_shard(out, index, table, wanted, config)
    images["duplicate"] = duplicates
    with out.atomic(paths["parquet"]) as fh:
        pq.write_table(pa.Table.from_pylist(rows.records, schema=SCHEMA), fh)
    return {"stage": STAGE, "partition": index, "items": len(rows.records),
            "status": dict(rows.counts), "reasons": dict(sorted(rows.reasons.items())),
            "images": dict(images), "failed_images": failed, "shard": shard,
            "samples": shard["samples"], "from_cells": table is not None,
            "cells_adopted": bool(adopted)}


def shard_record(out: Output, index: int) -> dict:
    """The shard line (path, samples, bytes, sha256) recorded when the partition finished."""
    return out.read_json(outputs(index)["done"])["shard"]
