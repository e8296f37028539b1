"""Grid cells of one decoded image, and their storage as patch rows and samples.

`cut` is pure: pixels in, one `Cell` per grid cell out (its quality figures and
verdict, irdata/patching/figures.py, and the PNG bytes of each kept cell).
`CellWriter` stores cells as rows of SCHEMA and as `{key}.png` + `{key}.json`
samples of a patch-format tar. The fetch stage cuts every usable image right
after inspecting it (the build's one full decode) into cells/NNNNN.*; the patch
stage keeps the cells of unique images.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from irdata.imaging.encode import encode_png
from irdata.keys import patch_key
from irdata.patching import figures as cell_figures
from irdata.patching.figures import FIGURES, CellFigures
from irdata.patching.grid import grid
from irdata.shards import ShardFile

SCHEMA = pa.schema([
    ("key", pa.string()), ("image_id", pa.string()), ("x", pa.int32()), ("y", pa.int32()),
    ("size", pa.int32()), *[(name, pa.float32()) for name in FIGURES], ("kept", pa.bool_()),
    ("reason", pa.string()), ("shard", pa.string()), ("sha256", pa.string()),
    ("bytes", pa.int64()),
])


@dataclass(frozen=True)
class Cell:
    y: int
    x: int
    figures: CellFigures
    reason: str  # "" when kept
    png: bytes | None  # None: dropped

    @property
    def fraction(self) -> float:
        return self.figures.flat_fraction


def _figures_of(pixels: np.ndarray, settings: dict, measured) -> list[tuple[int, int, CellFigures]]:
    if measured is not None:
        return measured
    size = settings["size"]
    return [(y, x, cell_figures.measure(pixels[y:y + size, x:x + size], settings["flat_block"],
                                        settings["flat_threshold"]))
            for y, x in grid(pixels.shape[1], pixels.shape[0], size)]


def cut(pixels: np.ndarray, settings: dict, measured=None) -> list[Cell]:
    """The centred grid of an HxWx3 uint8 RGB image (the `patch` settings): the
    figures and verdict of every cell, lossless PNG of every kept one. `measured`:
    the (y, x, CellFigures) inspection already took from these pixels."""
    size = settings["size"]
    cells = []
    for y, x, found in _figures_of(pixels, settings, measured):
        reason = cell_figures.judge(found, settings)
        png = None
        if not reason:
            png = encode_png(pixels[y:y + size, x:x + size], settings["png_compression"],
                             settings["png_strategy"], settings["png_filter"],
                             settings["png_encoder"])
        cells.append(Cell(y, x, found, reason, png))
    return cells


def sample_json(row: dict, cell: Cell, size: int) -> dict:
    """The lineage stored beside each patch, with its quality figures."""
    return {"image_id": row["image_id"], "locator": row["locator"], "source": row["source"],
            "license": row["license"], "x": cell.x, "y": cell.y, "size": size,
            **cell.figures.to_dict()}


class CellWriter:
    """Adds the cells of one image after another: rows (SCHEMA) and tar samples."""

    def __init__(self, writer: ShardFile | None, shard: str | None, size: int):
        self.writer, self.shard, self.size = writer, shard, size
        self.rows: list[dict] = []
        self.counts: Counter = Counter()
        self.reasons: Counter = Counter()

    def add(self, row: dict, cells: list[Cell]) -> None:
        for cell in cells:
            key = patch_key(row["image_id"], cell.y, cell.x)
            record = {"key": key, "image_id": row["image_id"], "x": cell.x, "y": cell.y,
                      "size": self.size, **cell.figures.to_dict(),
                      "kept": False, "reason": cell.reason, "shard": None, "sha256": None,
                      "bytes": None}
            if cell.png is not None:
                self.writer.add(key, {"png": cell.png,
                                      "json": sample_json(row, cell, self.size)})
                record.update(kept=True, reason="", shard=self.shard,
                              sha256=hashlib.sha256(cell.png).hexdigest(),
                              bytes=len(cell.png))
            self.count(record)
            self.rows.append(record)

    def count(self, record: dict) -> None:
        """Count a row as kept or dropped, and its drop reason."""
        self.counts["kept" if record["kept"] else "dropped"] += 1
        if not record["kept"]:
            self.reasons[f"dropped:{record['reason']}"] += 1
