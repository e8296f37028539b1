"""Dedupe stage (the one global barrier): hashes and keeper figures in (never pixels),
`dedupe/clusters.parquet` out; the stats count keepers per `keeper_reason`."""

from __future__ import annotations

import io
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq

from irdata.dedupe.clusters import find_duplicates
from irdata.stages import fetch
from irdata.storage import Output

STAGE = "dedupe"
FOLDER = "dedupe"
CLUSTERS = f"{FOLDER}/clusters.parquet"
HASH_COLUMNS = ["image_id", "status", "sha256", "phash", "dhash", "width", "height", "bytes"]
# Figures the keeper rule ranks by (find_duplicates keywords); a raw table written
# before one existed reads it as all null.
KEEPER_COLUMNS = ["upscaled", "noise", "jpeg_quality", "sharpness", "clipped", "crushed",
                  "tonal_range"]


def lost_detail(clipped: list, crushed: list) -> list:
    """clipped + crushed per image (None where neither was measured)."""
    return [None if a is None and b is None else (a or 0.0) + (b or 0.0)
            for a, b in zip(clipped, crushed, strict=True)]


def outputs(index: int) -> dict[str, str]:
    """The global stage has one 'partition', 0."""
    return {"clusters": CLUSTERS, "stats": f"{FOLDER}/stats.json", "done": f"{FOLDER}/done"}


def read_hashes(out: Output, partitions: int) -> pa.Table:
    """The hash and keeper columns of every usable image, in plan order."""
    columns = HASH_COLUMNS + KEEPER_COLUMNS
    tables = []
    rels = [fetch.outputs(index)["parquet"] for index in range(partitions)]
    for data in out.iter_bytes(rels):
        parquet = pq.ParquetFile(io.BytesIO(data))
        present = [c for c in columns if c in parquet.schema_arrow.names]
        table = parquet.read(columns=present)
        for name in KEEPER_COLUMNS:
            if name not in present:
                field = fetch.SCHEMA.field(name)
                table = table.append_column(field, pa.nulls(table.num_rows, field.type))
        table = table.select(columns)
        tables.append(table.filter(pa.compute.equal(table["status"], "ok")))
    if tables:
        return pa.concat_tables(tables)
    return pa.table({c: [] for c in columns})


def read_duplicates(out: Output) -> set[str]:
    """image_ids that lost to a keeper (empty when dedupe is disabled or absent)."""
    data = out.read_optional(CLUSTERS)
    if data is None:
        return set()
    table = pq.read_table(io.BytesIO(data), columns=["image_id", "keeper"])
    return {row["image_id"] for row in table.to_pylist() if not row["keeper"]}


def run_partition(config: dict, out_root: str, index: int, partitions: int = 1) -> dict:
    """Cluster exact and near duplicates over the whole build."""
    out = Output(out_root, config["storage_options"])
    settings = config["dedupe"]
    hashes = read_hashes(out, partitions)
    if not settings["enabled"]:  # no dedupe at all: an empty clusters table
        hashes = hashes.slice(0, 0)
    columns = {name: hashes[name].to_pylist()
               for name in HASH_COLUMNS[2:] + ["image_id"] + KEEPER_COLUMNS}
    clusters = find_duplicates(
        columns["image_id"], columns["sha256"], columns["phash"], columns["dhash"],
        columns["width"], columns["height"], columns["bytes"],
        phash_distance=settings["phash_distance"],
        dhash_distance=settings["dhash_distance"],
        upscaled=columns["upscaled"], noise=columns["noise"],
        jpeg_quality=columns["jpeg_quality"], sharpness=columns["sharpness"],
        lost_detail=lost_detail(columns["clipped"], columns["crushed"]),
        tonal_range=columns["tonal_range"])
    table = clusters if isinstance(clusters, pa.Table) else pa.table(clusters)
    with out.atomic(CLUSTERS) as fh:
        pq.write_table(table, fh)
    rows = table.to_pylist()
    matches = Counter(row["match"] for row in rows if not row["keeper"])
    keeper_reasons = Counter(row["keeper_reason"] for row in rows if row["keeper"])
    stats = {"stage": STAGE, "partition": 0, "items": hashes.num_rows,
             "status": {"unique": hashes.num_rows - sum(matches.values()),
                        "duplicate": sum(matches.values())},
             "reasons": {f"duplicate:{k}": v for k, v in sorted(matches.items())},
             "clusters": sum(1 for row in rows if row["keeper"]),
             "keeper_reasons": dict(sorted(keeper_reasons.items()))}
    return stats
