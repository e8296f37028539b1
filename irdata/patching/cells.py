"""Grid cells of one decoded image, and their storage as patch rows and samples.

`cut` is pure: pixels in, one `Cell` per grid cell out (its flat fraction, and
the PNG bytes of each kept cell). `CellWriter` stores cells as rows of SCHEMA
and as `{key}.png` + `{key}.json` samples of a patch-format tar. The fetch
stage cuts every usable image right after inspecting it (the build's one full
decode) into cells/NNNNN.*; the patch stage keeps the cells of unique images.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from irdata.imaging.encode import encode_png
from irdata.keys import patch_key
from irdata.patching.flat import flat_fraction
from irdata.patching.grid import grid
from irdata.shards import ShardWriter

SCHEMA = pa.schema([
    ("key", pa.string()), ("image_id", pa.string()), ("x", pa.int32()), ("y", pa.int32()),
    ("size", pa.int32()), ("flat_fraction", pa.float32()), ("kept", pa.bool_()),
    ("reason", pa.string()), ("shard", pa.string()), ("sha256", pa.string()),
    ("bytes", pa.int64()),
])


@dataclass(frozen=True)
class Cell:
    y: int
    x: int
    fraction: float
    png: bytes | None  # None: dropped as flat


def cut(pixels: np.ndarray, settings: dict) -> list[Cell]:
    """The centred grid of an HxWx3 uint8 RGB image (the `patch` settings): flat
    fraction of every cell, lossless PNG of every cell not too flat."""
    size = settings["size"]
    height, width = pixels.shape[:2]
    cells = []
    for y, x in grid(width, height, size):
        view = pixels[y:y + size, x:x + size]
        fraction = flat_fraction(view, block=settings["flat_block"],
                                 threshold=settings["flat_threshold"])
        png = None
        if fraction <= settings["max_flat_fraction"]:
            png = encode_png(view, settings["png_compression"], settings["png_strategy"],
                             settings["png_filter"], settings["png_encoder"])
        cells.append(Cell(y, x, fraction, png))
    return cells


def sample_json(row: dict, cell: Cell, size: int) -> dict:
    """The lineage stored beside each patch."""
    return {"image_id": row["image_id"], "locator": row["locator"], "source": row["source"],
            "license": row["license"], "x": cell.x, "y": cell.y, "size": size,
            "flat_fraction": round(float(cell.fraction), 4)}


class CellWriter:
    """Adds the cells of one image after another: rows (SCHEMA) and tar samples."""

    def __init__(self, writer: ShardWriter, shard: str | None, size: int):
        self.writer, self.shard, self.size = writer, shard, size
        self.rows: list[dict] = []
        self.counts: Counter = Counter()

    def add(self, row: dict, cells: list[Cell]) -> None:
        for cell in cells:
            key = patch_key(row["image_id"], cell.y, cell.x)
            record = {"key": key, "image_id": row["image_id"], "x": cell.x, "y": cell.y,
                      "size": self.size, "flat_fraction": float(cell.fraction),
                      "kept": False, "reason": "flat", "shard": None, "sha256": None,
                      "bytes": None}
            if cell.png is not None:
                self.writer.add(key, {"png": cell.png,
                                      "json": sample_json(row, cell, self.size)})
                record.update(kept=True, reason="", shard=self.shard,
                              sha256=hashlib.sha256(cell.png).hexdigest(),
                              bytes=len(cell.png))
            self.counts["kept" if record["kept"] else "dropped"] += 1
            self.rows.append(record)
