"""`irdata check-overlap`: an existing corpus against an evaluation set, without
rebuilding. Every source image that gave kept patches is decoded again from its
raw shard and matched; a match counts when it is whole-image or its region
overlaps a kept patch."""

from __future__ import annotations

import pyarrow.parquet as pq

from irdata import shards
from irdata.errors import UsageError
from irdata.exclude import sets
from irdata.exclude.index import ExclusionIndex
from irdata.imaging.decode import decode_rgb
from irdata.patching.grid import cell_overlaps
from irdata.quality import working
from irdata.storage import Output


def _tables(out: Output) -> tuple[list[dict], dict[str, list[dict]]]:
    """(image rows with a raw shard, kept patch rows per image) from the manifest."""
    paths = {name: f"manifest/{name}.parquet" for name in ("images", "patches")}
    missing = [rel for rel in paths.values() if not out.is_file(rel)]
    if missing:
        raise UsageError(f"{out.root}: no {missing[0]}: not a finished build output")
    images = pq.read_table(out.path(paths["images"]), columns=[
        "image_id", "locator", "shard", "format", "sha256", "phash", "dhash"]).to_pylist()
    patches = pq.read_table(out.path(paths["patches"]),
                            columns=["image_id", "x", "y", "size", "kept"]).to_pylist()
    kept: dict[str, list[dict]] = {}
    for row in patches:
        if row["kept"]:
            kept.setdefault(row["image_id"], []).append(row)
    return [row for row in images if row["shard"] and row["image_id"] in kept], kept


def _overlapping(match, patches: list[dict]) -> list[dict]:
    if match.whole:
        return patches
    return [p for p in patches if cell_overlaps(match.region, p["x"], p["y"], p["size"])]


def check_overlap(output: str, spec: dict) -> dict:
    """Matches of the set `spec` (name, kind, path) in the corpus at `output`: each
    source that gave kept patches is decoded once; its hashes come from the manifest."""
    out = Output(output)
    table = sets.read_set(spec)
    index = ExclusionIndex(table)
    images, kept = _tables(out)
    by_shard: dict[str, dict[str, dict]] = {}
    for row in images:
        by_shard.setdefault(row["shard"], {})[row["image_id"]] = row
    lines, overlaps = [], 0
    for shard in sorted(by_shard):
        wanted = by_shard[shard]
        for key, sample in shards.samples(out, shard):
            if key not in wanted:
                continue
            row = wanted[key]
            data = next(v for k, v in sample.items() if k != "json")
            pixels = decode_rgb(data, row["format"])  # the build's decode; hashes from its rows
            work = working.to_working(pixels)
            for match in index.find(row["sha256"], pixels, work, row["phash"], row["dhash"]):
                hit = _overlapping(match, kept[key])
                if hit:
                    overlaps += 1
                    where = "whole image" if match.whole else f"region {list(match.region)}"
                    lines.append(f"{wanted[key]['locator']}\t{match.set}/{match.file}\t"
                                 f"{match.kind}\t{match.distance:g}\t{where}\t"
                                 f"{len(hit)} kept patch(es)")
    return {"lines": lines, "overlaps": overlaps, "images": len(images),
            "excluded": len(table), "set": spec["name"]}
