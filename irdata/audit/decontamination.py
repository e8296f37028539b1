"""The report's decontamination section: matches per evaluation set, and a sheet of
source regions beside the evaluation images they contain."""

from __future__ import annotations

import json
import os
from collections import Counter

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from irdata.audit import pixels
from irdata.audit.sheets import sheet, tile

SHOWN = 8  # matches on the sheet


def per_set(images: pa.Table, patches: pa.Table) -> list[tuple]:
    """(set, whole images, images with a contained region, cells dropped) per set."""
    whole, contained, cells = Counter(), Counter(), Counter()
    for row in images.select(["reason", "excluded_set", "excluded_regions"]).to_pylist():
        if row["reason"] == "excluded":
            whole[row["excluded_set"]] += 1
        for name in {r["set"] for r in json.loads(row["excluded_regions"] or "[]")}:
            contained[name] += 1
    for reason in patches["reason"].to_pylist():
        if reason and reason.startswith("excluded:"):
            cells[reason.partition(":")[2]] += 1
    names = sorted(set(whole) | set(contained) | set(cells))
    return [(name, whole[name], contained[name], cells[name]) for name in names]


def _thumbnails(out) -> dict[tuple[str, str], np.ndarray]:
    """(set, file) -> the thumbnail kept in the compiled sets under OUT/exclude/."""
    found = {}
    for path in sorted(out.fs.glob(out.path("exclude/*.parquet"))):
        with out.fs.open(path, "rb") as fh:
            table = pq.read_table(fh, columns=["set", "file", "thumbnail"])
        for row in table.to_pylist():
            if row["thumbnail"]:
                bgr = cv2.imdecode(np.frombuffer(row["thumbnail"], np.uint8), cv2.IMREAD_COLOR)
                found[row["set"], row["file"]] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    return found


def match_sheet(out, images: pa.Table) -> str:
    """Up to SHOWN matches: the source region (stored sources only) beside the thumbnail
    of the evaluation image it matched."""
    rows = [r for r in images.to_pylist() if r["excluded_set"]][:SHOWN]
    thumbs = _thumbnails(out)
    decoded = pixels.source_images(out, [r for r in rows if r["shard"]])
    tiles = []
    for row in rows:
        name = os.path.basename(row["locator"].split("!")[-1])
        for region in json.loads(row["excluded_regions"] or "[]")[:1] or [None]:
            if region and row["image_id"] in decoded:
                x0, y0, x1, y1 = region["box"]
                tiles.append(tile(decoded[row["image_id"]][y0:y1, x0:x1], f"source {name}",
                                  row["locator"]))
            elif not region:
                tiles.append(tile(np.full((90, 160, 3), 230, np.uint8),
                                  f"{name} (dropped whole, not stored)", row["locator"]))
            match = region or {"set": row["excluded_set"], "file": row["excluded_file"],
                               "kind": row["excluded_kind"], "distance": row["excluded_distance"]}
            thumb = thumbs.get((match["set"], match["file"]), np.full((90, 160, 3), 200, np.uint8))
            tiles.append(tile(thumb, f"{match['set']}/{match['file']} ({match['kind']}, "
                                     f"{match['distance']:g})"))
    return sheet(tiles, "no source matched an evaluation set")
