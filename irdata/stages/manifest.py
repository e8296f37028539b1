"""Manifest stage (global): consolidated tables in manifest/ an auditor reads without
irdata: images (raw rows + dup_of, cluster_id, patch_status, patches_total, patches_kept),
patches (every grid cell, in shard order), degradations (one row per variant; always
written, empty without the degrade stage, so joins work) and shards (path, stage,
samples, bytes, sha256 of every shard)."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from irdata.shards import wids_index as shard_index
from irdata.stages import dedupe, degrade, fetch, patch
from irdata.storage import Output

STAGE = "manifest"
FOLDER = "manifest"
SHARDS_SCHEMA = pa.schema([("path", pa.string()), ("stage", pa.string()),
                           ("samples", pa.int64()), ("bytes", pa.int64()),
                           ("sha256", pa.string())])


def outputs(index: int) -> dict[str, str]:
    return {"images": f"{FOLDER}/images.parquet", "patches": f"{FOLDER}/patches.parquet",
            "shards": f"{FOLDER}/shards.parquet",
            "degradations": f"{FOLDER}/degradations.parquet", "stats": f"{FOLDER}/stats.json",
            "done": f"{FOLDER}/done", "wids": f"{FOLDER}/wids.json",
            "wids_paired": f"{FOLDER}/wids-paired.json"}


def done_partitions(out: Output, stage, partitions: int) -> list[int]:
    """The partitions of `stage` with their done marker (one listing of its folder)."""
    present = out.files(stage.FOLDER)
    return [i for i in range(partitions) if stage.outputs(i)["done"] in present]


def _concat(out: Output, stage, partitions: int) -> pa.Table | None:
    rels = [stage.outputs(i)["parquet"] for i in done_partitions(out, stage, partitions)]
    tables = [pq.read_table(io.BytesIO(data)) for data in out.iter_bytes(rels)]
    return pa.concat_tables(tables) if tables else None


def _json_files(out: Output, rels: list[str]):
    return (json.loads(data.decode("utf-8")) for data in out.iter_bytes(rels))


def _clusters(out: Output) -> dict[str, dict]:
    data = out.read_optional(dedupe.CLUSTERS)
    if data is None:
        return {}
    return {row["image_id"]: row for row in pq.read_table(io.BytesIO(data)).to_pylist()}


def _patch_counts(patches: pa.Table | None) -> tuple[dict, dict]:
    if patches is None or patches.num_rows == 0:
        return {}, {}
    grouped = patches.group_by("image_id").aggregate([("kept", "count"), ("kept", "sum")])
    ids = grouped["image_id"].to_pylist()
    return (dict(zip(ids, grouped["kept_count"].to_pylist(), strict=True)),
            dict(zip(ids, grouped["kept_sum"].to_pylist(), strict=True)))


def _patch_status(out: Output, partitions: int) -> dict[str, str]:
    status: dict[str, str] = {}
    rels = [patch.outputs(i)["stats"] for i in done_partitions(out, patch, partitions)]
    for stats in _json_files(out, rels):
        status.update(stats.get("failed_images", {}))
    return status


def images_table(out: Output, partitions: int, patches: pa.Table | None) -> pa.Table:
    raw = _concat(out, fetch, partitions)
    clusters = _clusters(out)
    total, kept = _patch_counts(patches)
    failed = _patch_status(out, partitions)
    ids = raw["image_id"].to_pylist()
    dup_of = [clusters.get(i, {}).get("dup_of") for i in ids]

    def status_of(image: str, fetched: str, duplicate: str | None) -> str | None:
        if fetched != "ok" or patches is None:
            return None
        return "duplicate" if duplicate else failed.get(image, "cut")

    status = [status_of(i, s, d)
              for i, s, d in zip(ids, raw["status"].to_pylist(), dup_of, strict=True)]
    return (raw.append_column("dup_of", pa.array(dup_of, pa.string()))
            .append_column("cluster_id", pa.array([clusters.get(i, {}).get("cluster_id")
                                                   for i in ids], pa.string()))
            .append_column("patch_status", pa.array(status, pa.string()))
            .append_column("patches_total", pa.array([total.get(i) for i in ids], pa.int32()))
            .append_column("patches_kept", pa.array([kept.get(i) for i in ids], pa.int32())))


def shards_table(out: Output, partitions: int) -> pa.Table:
    rows = []
    for stage in (fetch, patch, degrade):
        rels = [stage.outputs(i)["done"] for i in done_partitions(out, stage, partitions)]
        rows += [dict(done["shard"], stage=stage.STAGE) for done in _json_files(out, rels)]
    return pa.Table.from_pylist(rows, schema=SHARDS_SCHEMA)


def _write_wids(out: Output, paths: dict, shards: pa.Table) -> None:
    """wids shard indexes: the patch shards (wids.json) and, with the degrade stage, the
    paired shards (wids-paired.json)."""
    rows = shards.to_pylist()
    for stage, key, name in ((patch, "wids", "irdata-patches"),
                             (degrade, "wids_paired", "irdata-paired")):
        records = [row for row in rows if row["stage"] == stage.STAGE]
        if records:
            out.write_json(paths[key], shard_index(records, name, FOLDER))
        else:  # none (any more): no stale index
            out.remove([paths[key]])


def run_partition(config: dict, out_root: str, index: int, partitions: int = 1) -> dict:
    """Write the consolidated images, patches and shards tables."""
    out = Output(out_root, config["storage_options"])
    paths = outputs(0)
    patches = _concat(out, patch, partitions)
    images = images_table(out, partitions, patches)
    shards = shards_table(out, partitions)
    degradations = _concat(out, degrade, partitions)
    if degradations is None:
        degradations = degrade.SCHEMA.empty_table()
    for name, table in (("images", images), ("patches", patches), ("shards", shards),
                        ("degradations", degradations)):
        if table is not None:
            with out.atomic(paths[name]) as fh:
                pq.write_table(table, fh)
    _write_wids(out, paths, shards)
    kept = int(pc.sum(patches["kept"]).as_py() or 0) if patches is not None else 0
    stats = {"stage": STAGE, "partition": 0, "items": images.num_rows,
             "status": {"images": images.num_rows, "shards": shards.num_rows,
                        "patches_kept": kept},
             "reasons": {}}
    return stats
