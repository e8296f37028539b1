"""Patch stage: raw/NNNNN.tar -> patches/NNNNN.{tar,parquet,stats.json}.

Each unique usable image is decoded in full once, cut on a centred grid of
size x size cells, each cell's flat fraction measured; cells that are flat for
more than `max_flat_fraction` are dropped (reason `flat`), the rest are stored
losslessly as PNG with a JSON of their lineage. Every grid cell gets a row.
"""

from __future__ import annotations

import hashlib
import tarfile
import time
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from irdata.imaging.decode import DecodeError, decode_rgb
from irdata.imaging.encode import encode_png
from irdata.keys import partition_name, patch_key
from irdata.patching.flat import flat_fraction
from irdata.patching.grid import grid
from irdata.shards import HashingWriter, ShardWriter
from irdata.stages import dedupe, fetch
from irdata.storage import Output

STAGE = "patch"
FOLDER = "patches"
SCHEMA = pa.schema([
    ("key", pa.string()), ("image_id", pa.string()), ("x", pa.int32()), ("y", pa.int32()),
    ("size", pa.int32()), ("flat_fraction", pa.float32()), ("kept", pa.bool_()),
    ("reason", pa.string()), ("shard", pa.string()), ("sha256", pa.string()),
    ("bytes", pa.int64()),
])
def outputs(index: int) -> dict[str, str]:
    name = partition_name(index)
    return {"tar": f"{FOLDER}/{name}.tar", "parquet": f"{FOLDER}/{name}.parquet",
            "stats": f"{FOLDER}/{name}.stats.json", "done": f"{FOLDER}/{name}.done"}


def _raw_samples(out: Output, index: int, wanted: dict[str, dict]):
    """(row, bytes) for each wanted image, in the raw shard's order."""
    with out.fs.open(out.path(fetch.outputs(index)["tar"]), "rb") as fh:
        with tarfile.open(fileobj=fh, mode="r|") as tar:
            for member in tar:
                key, _, ext = member.name.partition(".")
                if ext != "json" and key in wanted and member.isfile():
                    yield wanted[key], tar.extractfile(member).read()


def _usable_rows(out: Output, index: int, duplicates: set[str]) -> tuple[dict, int]:
    with out.fs.open(out.path(fetch.outputs(index)["parquet"]), "rb") as fh:
        rows = pq.read_table(fh).to_pylist()
    ok = [row for row in rows if row["status"] == "ok"]
    wanted = {row["image_id"]: row for row in ok if row["image_id"] not in duplicates}
    return wanted, len(ok) - len(wanted)


def _sample_json(row: dict, x: int, y: int, size: int, fraction: float) -> dict:
    return {"image_id": row["image_id"], "locator": row["locator"], "source": row["source"],
            "license": row["license"], "x": x, "y": y, "size": size,
            "flat_fraction": round(float(fraction), 4)}


class _Cutter:
    """Cuts one image into rows and stored samples; counts outcomes."""

    def __init__(self, settings: dict, writer: ShardWriter, shard: str):
        self.settings, self.writer, self.shard = settings, writer, shard
        self.rows: list[dict] = []
        self.counts: Counter = Counter()

    def cut(self, row: dict, pixels: np.ndarray) -> None:
        size, s = self.settings["size"], self.settings
        height, width = pixels.shape[:2]
        for y, x in grid(width, height, size):
            cell = pixels[y:y + size, x:x + size]
            fraction = flat_fraction(cell, block=s["flat_block"], threshold=s["flat_threshold"])
            key = patch_key(row["image_id"], y, x)
            record = {"key": key, "image_id": row["image_id"], "x": x, "y": y, "size": size,
                      "flat_fraction": float(fraction), "kept": False, "reason": "flat",
                      "shard": None, "sha256": None, "bytes": None}
            if fraction <= s["max_flat_fraction"]:
                png = encode_png(np.ascontiguousarray(cell), s["png_compression"],
                                 s["png_strategy"])
                self.writer.add(key, {"png": png,
                                      "json": _sample_json(row, x, y, size, fraction)})
                record.update(kept=True, reason="", shard=self.shard,
                              sha256=hashlib.sha256(png).hexdigest(), bytes=len(png))
            self.counts["kept" if record["kept"] else "dropped"] += 1
            self.rows.append(record)


def _decode(row: dict, data: bytes) -> tuple[np.ndarray | None, str]:
    try:
        pixels = decode_rgb(data, row["format"])
    except DecodeError as err:
        return None, err.reason
    if pixels.shape[:2] != (row["height"], row["width"]):
        return None, "size_mismatch"
    return pixels, ""


def run_partition(config: dict, out_root: str, index: int) -> dict:
    """Cut every unique usable image of one raw shard into patches."""
    started = time.time()
    out = Output(out_root)
    paths = outputs(index)
    wanted, duplicates = _usable_rows(out, index, dedupe.read_duplicates(out))
    images = Counter({"duplicate": duplicates})
    failed: dict[str, str] = {}
    with out.atomic(paths["tar"]) as fh:
        hashing = HashingWriter(fh)
        writer = ShardWriter(hashing)
        cutter = _Cutter(config["patch"], writer, paths["tar"])
        for row, data in _raw_samples(out, index, wanted):
            pixels, problem = _decode(row, data)
            images[problem or "cut"] += 1
            if problem:
                failed[row["image_id"]] = problem
            if pixels is not None:
                cutter.cut(row, pixels)
        writer.close()
    with out.atomic(paths["parquet"]) as fh:
        pq.write_table(pa.Table.from_pylist(cutter.rows, schema=SCHEMA), fh)
    shard = {"path": paths["tar"], "samples": writer.samples, "bytes": hashing.size,
             "sha256": hashing.hexdigest()}
    flat = cutter.counts.get("dropped", 0)
    stats = {"stage": STAGE, "partition": index, "items": len(cutter.rows),
             "status": dict(cutter.counts), "reasons": {"dropped:flat": flat} if flat else {},
             "images": dict(images), "failed_images": failed, "shard": shard,
             "samples": writer.samples, "seconds": round(time.time() - started, 3)}
    out.write_json(paths["stats"], stats)
    out.write_json(paths["done"], {"partition": index, "shard": shard})
    return stats


def shard_record(out: Output, index: int) -> dict:
    """The shard line (path, samples, bytes, sha256) recorded when the partition finished."""
    return out.read_json(outputs(index)["done"])["shard"]

