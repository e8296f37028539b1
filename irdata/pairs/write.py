"""`irdata pairs DIR --out OUT`: a pairs folder (see find.py) becomes paired shards in
the degrade stage's format, so public fine-tuning sets reach training the same way.

OUT/paired/NNNNN.tar holds `{key}.gt.png`, `{key}.lq.0.png` (lossless copies) and
`{key}.json`; OUT/manifest/ gets pairs.parquet (one row per pair), degradations.parquet
(kind "real") and shards.parquet (stage "pairs"), so `irdata verify OUT` checks it.
The key is the image id of the input's path relative to the folder's parent.
"""

from __future__ import annotations

import hashlib
import json
import os

import pyarrow as pa
import pyarrow.parquet as pq

from irdata.errors import UsageError
from irdata.imaging.encode import encode_png
from irdata.imaging.files import read_rgb
from irdata.keys import image_id, partition_name
from irdata.pairs.find import Pair, find_pairs
from irdata.shards import ShardFile, wids_index
from irdata.stages.degrade import SCHEMA as DEGRADATIONS_SCHEMA
from irdata.stages.manifest import SHARDS_SCHEMA
from irdata.storage import Output

STAGE = "pairs"
PAIRS_TABLE = "manifest/pairs.parquet"
PAIRS_SCHEMA = pa.schema([("key", pa.string()), ("task", pa.string()), ("lq", pa.string()),
                         ("gt", pa.string()), ("width", pa.int32()), ("height", pa.int32()),
                         ("gt_sha256", pa.string()), ("lq_sha256", pa.string()),
                         ("shard", pa.string())])


def _sample(pair: Pair, folder: str, task: str, shard: str) -> tuple[str, dict, dict, dict]:
    lq, gt = read_rgb(pair.lq), read_rgb(pair.gt)
    if lq.shape != gt.shape:
        raise UsageError(f"{pair.lq}: {lq.shape[1]}x{lq.shape[0]} but its target {pair.gt} is "
                         f"{gt.shape[1]}x{gt.shape[0]}")
    locator = f"{os.path.basename(os.path.abspath(folder))}/{pair.name}"
    key = image_id(locator)
    gt_name = os.path.relpath(pair.gt, folder)
    params = {"task": task, "lq": pair.name, "gt": gt_name}
    record = {"key": key, "task": task, "lq": pair.name, "gt": gt_name,
              "variants": [{"variant": 0, "kind": "real", "params": params, "seed": None}]}
    members = {"gt.png": encode_png(gt), "lq.0.png": encode_png(lq), "json": record}
    row = {"key": key, "variant": 0, "kind": "real", "params": json.dumps(params, sort_keys=True),
           "seed": None, "shard": shard}
    listed = {"key": key, "task": task, "lq": pair.name, "gt": gt_name,
              "width": int(gt.shape[1]), "height": int(gt.shape[0]),
              "gt_sha256": hashlib.sha256(members["gt.png"]).hexdigest(),
              "lq_sha256": hashlib.sha256(members["lq.0.png"]).hexdigest(), "shard": shard}
    return key, members, row, listed


def write_pair_shards(folder: str, out_root: str, task: str | None = None,
                      per_shard: int = 1000) -> dict:
    """Write every pair of `folder` into shards under `out_root`; returns a summary."""
    found = find_pairs(folder, task)
    out = Output(out_root)
    if out.exists("paired") and out.fs.ls(out.path("paired")):
        raise UsageError(f"{out_root}/paired already holds shards: choose a new --out")
    degradations, listed, shards = [], [], []
    for index, start in enumerate(range(0, len(found.pairs), per_shard)):
        rel = f"paired/{partition_name(index)}.tar"
        with ShardFile(out, rel) as writer:
            for pair in found.pairs[start:start + per_shard]:
                key, members, row, pair_row = _sample(pair, folder, found.task, rel)
                writer.add(key, members)
                degradations.append(row)
                listed.append(pair_row)
        shards.append({**writer.record, "stage": STAGE})
    _table(out, PAIRS_TABLE, listed, PAIRS_SCHEMA)
    _table(out, "manifest/degradations.parquet", degradations, DEGRADATIONS_SCHEMA)
    _table(out, "manifest/shards.parquet", shards, SHARDS_SCHEMA)
    out.write_json("manifest/wids.json", wids_index(shards, "irdata-pairs"))
    return {"task": found.task, "pairs": len(found.pairs), "shards": len(shards),
            "unmatched": found.unmatched, "out": out_root}


def _table(out: Output, rel: str, rows: list[dict], schema: pa.Schema) -> None:
    with out.atomic(rel) as fh:
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), fh)
