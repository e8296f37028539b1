"""Grid cells of one decoded image, and their storage as patch rows and samples.

`cut` (pure) gives one `Cell` per grid cell: its figures, verdict and, when kept, PNG
bytes. `CellWriter` stores cells as patches-table rows (COLUMNS, counted in
`PatchRows`) and `{key}.png` + `{key}.json` samples. The fetch stage cuts each image
right after its one full decode; the patch stage keeps the cells of unique images.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from irdata.imaging.encode import encode_patch_png
from irdata.keys import patch_key
from irdata.patching import figures as cell_figures
from irdata.patching.figures import FIGURES, CellFigures
from irdata.patching.grid import cell_overlaps, grid
from irdata.rows import Column, columns, make_row, sample_names, schema
from irdata.shards import ShardFile

# The patches table (cells/ and patches/*.parquet, manifest/patches.parquet);
# `sample`: also in the JSON stored beside each patch's PNG, with FROM_IMAGE.
COLUMNS = (
    Column("key", pa.string()), Column("image_id", pa.string(), True),
    *columns(("x", "y", "size"), pa.int32(), True), *columns(FIGURES, pa.float32(), True),
    Column("kept", pa.bool_()), Column("reason", pa.string()), Column("shard", pa.string()),
    Column("sha256", pa.string()), Column("bytes", pa.int64()),
    *columns(("excluded_set", "excluded_file", "excluded_kind"), pa.string()),
    Column("excluded_distance", pa.float32()),
)
SCHEMA = schema(COLUMNS)
FROM_IMAGE = ("locator", "source", "license")  # the image's lineage in each patch's JSON


@dataclass(frozen=True)
class Cell:
    y: int
    x: int
    figures: CellFigures
    reason: str  # "" when kept
    png: bytes | None  # None: dropped
    excluded: dict | None = None  # the exclusion region it overlaps (set, file, kind, ...)

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


def cut(pixels: np.ndarray, settings: dict, measured=None, excluded=()) -> list[Cell]:
    """The centred grid of an HxWx3 uint8 RGB image (the `patch` settings): the
    figures and verdict of every cell, lossless PNG of every kept one. `measured`:
    the (y, x, CellFigures) inspection already took from these pixels; `excluded`:
    exclusion regions ({set, box, ...}); a cell overlapping one is `excluded:<set>`."""
    size = settings["size"]
    cells = []
    for y, x, found in _figures_of(pixels, settings, measured):
        region = next((r for r in excluded if cell_overlaps(r["box"], x, y, size)), None)
        reason = f"excluded:{region['set']}" if region else cell_figures.judge(found, settings)
        png = None
        if not reason:
            png = encode_patch_png(pixels[y:y + size, x:x + size], settings)
        cells.append(Cell(y, x, found, reason, png, region))
    return cells


def sample_json(image_row: dict, patch_row: dict) -> dict:
    """The lineage stored beside each patch, with its quality figures."""
    return {**{name: image_row[name] for name in FROM_IMAGE},
            **{name: patch_row[name] for name in sample_names(COLUMNS)}}


def patch_row(image_id: str, cell: Cell, size: int, shard: str | None) -> dict:
    """The row of one cell; sha256 and bytes of its PNG when it is kept."""
    kept = cell.png is not None
    return make_row(COLUMNS, {
        "key": patch_key(image_id, cell.y, cell.x), "image_id": image_id, "x": cell.x,
        "y": cell.y, "size": size, **cell.figures.to_dict(), "kept": kept,
        "reason": cell.reason, "shard": shard if kept else None,
        "sha256": hashlib.sha256(cell.png).hexdigest() if kept else None,
        "bytes": len(cell.png) if kept else None,
        **{f"excluded_{k}": (cell.excluded or {}).get(k)
           for k in ("set", "file", "kind", "distance")}})


class PatchRows:
    """The patch rows of one shard, counted: kept / dropped, and per drop reason."""

    def __init__(self, shard: str | None):
        self.shard = shard
        self.records: list[dict] = []
        self.counts: Counter = Counter()
        self.reasons: Counter = Counter()

    def add(self, record: dict) -> None:
        self.records.append(record)
        self.counts["kept" if record["kept"] else "dropped"] += 1
        if not record["kept"]:
            self.reasons[f"dropped:{record['reason']}"] += 1

    def adopt(self, record: dict) -> None:
        """A row cut earlier (the fetch stage's cells), now listed in this shard."""
        self.add({**record, "shard": self.shard if record["kept"] else None})

    def images(self) -> int:
        return len({record["image_id"] for record in self.records})


class CellWriter:
    """Stores one image's cells after another: samples in `writer`, rows in `rows`."""

    def __init__(self, writer: ShardFile, shard: str | None, size: int):
        self.writer, self.size = writer, size
        self.rows = PatchRows(shard)

    def add(self, image_row: dict, cells: list[Cell]) -> None:
        for cell in cells:
            record = patch_row(image_row["image_id"], cell, self.size, self.rows.shard)
            if cell.png is not None:
                self.writer.add(record["key"], {"png": cell.png,
                                                "json": sample_json(image_row, record)})
            self.rows.add(record)
