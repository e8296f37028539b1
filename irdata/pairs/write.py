"""`irdata pairs DIR --out OUT`: a pairs folder (see find.py) becomes paired shards in
the degrade stage's format, so public fine-tuning sets reach training the same way; a
folder of clean images becomes clean shards in the patch stage's format.

Pairs: OUT/paired/NNNNN.tar holds `{key}.gt.png`, `{key}.lq.0.png` (lossless copies) and
`{key}.json`; OUT/manifest/ gets pairs.parquet (one row per pair), degradations.parquet
(kind "real") and shards.parquet (stage "pairs"), so `irdata verify OUT` checks it.
Clean images: OUT/patches/NNNNN.tar holds `{key}.png` (the whole image, lossless) and
`{key}.json` (name, width, height, sha256 of the PNG); OUT/manifest/ gets images.parquet
(one row per image) and shards.parquet (stage "clean"); unreadable images are listed.
Both get manifest/wids.json. The key is the image id of the input's path relative to
the folder's parent.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.parquet as pq

from irdata.errors import UsageError
from irdata.imaging.encode import encode_png
from irdata.imaging.files import read_rgb
from irdata.keys import image_id, partition_name
from irdata.pairs.find import CleanSet, Pair, PairSet, find_pairs, find_set
from irdata.shards import ShardFile, wids_index
from irdata.stages.degrade import SCHEMA as DEGRADATIONS_SCHEMA
from irdata.stages.manifest import SHARDS_SCHEMA
from irdata.storage import Output

STAGE = "pairs"
CLEAN_STAGE = "clean"
PAIRS_TABLE = "manifest/pairs.parquet"
IMAGES_TABLE = "manifest/images.parquet"
PAIRS_SCHEMA = pa.schema([("key", pa.string()), ("task", pa.string()), ("lq", pa.string()),
                         ("gt", pa.string()), ("width", pa.int32()), ("height", pa.int32()),
                         ("gt_sha256", pa.string()), ("lq_sha256", pa.string()),
                         ("shard", pa.string())])
IMAGES_SCHEMA = pa.schema([("image_id", pa.string()), ("name", pa.string()),
                           ("width", pa.int32()), ("height", pa.int32()),
                           ("sha256", pa.string()), ("shard", pa.string())])

Sample = tuple[str, dict, list[dict]]  # key, members, manifest rows (without their shard)


def _key(folder: str, name: str) -> str:
    return image_id(f"{os.path.basename(os.path.abspath(folder))}/{name}")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _sample(pair: Pair, folder: str, task: str) -> Sample:
    lq, gt = read_rgb(pair.lq), read_rgb(pair.gt)
    if lq.shape != gt.shape:
        raise UsageError(f"{pair.lq}: {lq.shape[1]}x{lq.shape[0]} but its target {pair.gt} is "
                         f"{gt.shape[1]}x{gt.shape[0]}")
    key = _key(folder, pair.name)
    gt_name = os.path.relpath(pair.gt, folder).replace(os.sep, "/")
    params = {"task": task, "lq": pair.name, "gt": gt_name}
    record = {"key": key, "task": task, "lq": pair.name, "gt": gt_name,
              "variants": [{"variant": 0, "kind": "real", "params": params, "seed": None}]}
    members = {"gt.png": encode_png(gt), "lq.0.png": encode_png(lq), "json": record}
    row = {"key": key, "variant": 0, "kind": "real", "params": json.dumps(params, sort_keys=True),
           "seed": None}
    listed = {"key": key, "task": task, "lq": pair.name, "gt": gt_name,
              "width": int(gt.shape[1]), "height": int(gt.shape[0]),
              "gt_sha256": _sha256(members["gt.png"]), "lq_sha256": _sha256(members["lq.0.png"])}
    return key, members, [row, listed]


def _clean_sample(found: CleanSet, name: str) -> Sample:
    rgb = read_rgb(os.path.join(found.folder, name))
    png = encode_png(rgb)
    key = _key(found.folder, name)
    info = {"name": name, "width": int(rgb.shape[1]), "height": int(rgb.shape[0]),
            "sha256": _sha256(png)}
    return key, {"png": png, "json": {"key": key, "task": found.task, **info}}, [
        {"image_id": key, **info}]


def _clean_samples(found: CleanSet, unreadable: list[tuple[str, str]]) -> Iterable[Sample]:
    """The samples of the readable images; the others go to `unreadable` with a reason."""
    for name in found.images:
        try:
            yield _clean_sample(found, name)
        except UsageError as exc:
            path = os.path.join(found.folder, name)
            unreadable.append((name, str(exc).removeprefix(f"{path}: ")))


def _write_samples(out: Output, folder: str, stage: str, samples: Iterable[Sample],
                   per_shard: int) -> tuple[list[list[dict]], list[dict]]:
    """`folder/NNNNN.tar` shards of `per_shard` samples each (no empty one): the samples'
    rows with their shard, and the shard records."""
    rows, shards, samples = [], [], iter(samples)
    sample = next(samples, None)
    while sample is not None:
        rel = f"{folder}/{partition_name(len(shards))}.tar"
        with ShardFile(out, rel) as writer:
            while sample is not None and writer.samples < per_shard:
                key, members, sample_rows = sample
                writer.add(key, members)
                rows.append([{**row, "shard": rel} for row in sample_rows])
                sample = next(samples, None)
        shards.append({**writer.record, "stage": stage})
    return rows, shards


def _fresh_output(out_root: str, folder: str) -> Output:
    out = Output(out_root)
    if (out.exists(folder) and out.fs.ls(out.path(folder))) or out.exists(
            "manifest/shards.parquet"):
        raise UsageError(f"{out_root} already holds shards: choose a new --out")
    return out


def _write_pairs(found: PairSet, out_root: str, per_shard: int) -> dict:
    out = _fresh_output(out_root, "paired")
    samples = (_sample(pair, found.folder, found.task) for pair in found.pairs)
    rows, shards = _write_samples(out, "paired", STAGE, samples, per_shard)
    _table(out, PAIRS_TABLE, [r[1] for r in rows], PAIRS_SCHEMA)
    _table(out, "manifest/degradations.parquet", [r[0] for r in rows], DEGRADATIONS_SCHEMA)
    _table(out, "manifest/shards.parquet", shards, SHARDS_SCHEMA)
    out.write_json("manifest/wids.json", wids_index(shards, "irdata-pairs"))
    return {"layout": found.layout, "task": found.task, "pairs": len(found.pairs),
            "shards": len(shards), "unmatched": found.unmatched, "out": out_root,
            "folder": "paired"}


def _write_clean(found: CleanSet, out_root: str, per_shard: int) -> dict:
    out = _fresh_output(out_root, "patches")
    unreadable: list[tuple[str, str]] = []
    rows, shards = _write_samples(out, "patches", CLEAN_STAGE,
                                  _clean_samples(found, unreadable), per_shard)
    if not rows:
        name, reason = unreadable[0]
        raise UsageError(f"{found.folder}: none of its {len(unreadable)} image(s) could be "
                         f"read (first: {name}: {reason})")
    images = [r[0] for r in rows]
    _table(out, IMAGES_TABLE, images, IMAGES_SCHEMA)
    _table(out, "manifest/shards.parquet", shards, SHARDS_SCHEMA)
    out.write_json("manifest/wids.json", wids_index(shards, "irdata-clean"))
    return {"layout": found.layout, "task": found.task, "images": len(images),
            "shards": len(shards), "unreadable": unreadable, "out": out_root,
            "folder": "patches", "smallest_side": min(min(r["width"], r["height"])
                                                      for r in images)}


def write_pair_shards(folder: str, out_root: str, task: str | None = None,
                      per_shard: int = 1000) -> dict:
    """Write every pair of `folder` into shards under `out_root`; returns a summary."""
    return _write_pairs(find_pairs(folder, task), out_root, per_shard)


def write_folder_shards(folder: str, out_root: str, task: str | None = None,
                        per_shard: int = 1000) -> dict:
    """`irdata pairs`: paired shards of a pairs layout, else clean shards of the folder's
    images; returns a summary (its "layout", and "pairs" or "images" counted)."""
    found = find_set(folder, task)
    if isinstance(found, CleanSet):
        return _write_clean(found, out_root, per_shard)
    return _write_pairs(found, out_root, per_shard)


def _table(out: Output, rel: str, rows: list[dict], schema: pa.Schema) -> None:
    with out.atomic(rel) as fh:
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), fh)
