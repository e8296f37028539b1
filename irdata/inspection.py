"""Inspect one image's bytes: format, size, usability, hashes and quality figures.

Pure: bytes in, an Inspection out; never raises for bad input. One full decode:
`examine_cells` also returns the pixels and each grid cell's figures, so fetch cuts
cells from it. Hashes use the working resolution; sharpness, periodicity and noise
come from the native-resolution cells. Without `quality` settings nothing is dropped.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

import numpy as np

from irdata.config import PATCH, QUALITY
from irdata.errors import describe
from irdata.imaging import decode, hashing
from irdata.imaging.sniff import sniff
from irdata.patching import figures as cell_figures
from irdata.patching.grid import grid
from irdata.quality import gates, working
from irdata.quality.jpeg_quality import estimate_quality

DEFAULT_PATCH = {name: spec.default for name, spec in PATCH.items()}
DEFAULT_QUALITY = {name: spec.default for name, spec in QUALITY.items()}


@dataclass
class Inspection:
    status: str = "ok"  # ok or dropped
    reason: str = ""
    detail: str = ""
    sha256: str = ""
    bytes: int = 0
    format: str = ""
    width: int | None = None  # after EXIF orientation
    height: int | None = None
    mode: str = ""  # Pillow mode as stored
    orientation: int = 1
    frames: int = 1
    phash: str = ""
    dhash: str = ""
    jpeg_quality: int | None = None  # IJG quality fitted to the quantisation tables
    # Quality figures (irdata/quality/gates.py; None: not measured).
    sharpness: float | None = None
    periodicity: float | None = None
    noise: float | None = None
    clipped: float | None = None
    crushed: float | None = None
    tonal_range: float | None = None
    flat_share: float | None = None
    palette_share: float | None = None
    upscaled: bool | None = None  # the upscale detector's verdict (also with gates off)

    def to_dict(self) -> dict:
        return asdict(self)


def _drop(result: Inspection, reason: str, detail: str) -> Inspection:
    result.status, result.reason, result.detail = "dropped", reason, detail
    return result


def _orient_result(result: Inspection, size: tuple[int, int], orientation: int) -> None:
    result.orientation = orientation
    result.width, result.height = decode.oriented_size(size, orientation)


def _apply_gates(result: Inspection, work: np.ndarray, cells: list,
                 quality: dict | None) -> Inspection:
    figures = gates.measure(work, [figures for _, _, figures in cells], result.jpeg_quality)
    for name, value in figures.items():
        setattr(result, name, value)
    result.upscaled = gates.is_upscaled(figures, quality or DEFAULT_QUALITY)
    reason, detail = gates.judge(figures, quality)
    return _drop(result, reason, detail) if reason else result


def measure_cells(pixels: np.ndarray, patch: dict) -> list[tuple[int, int, object]]:
    """(y, x, CellFigures) of every cell of the centred `patch["size"]` grid."""
    size = patch["size"]
    return [(y, x, cell_figures.measure(pixels[y:y + size, x:x + size], patch["flat_block"],
                                        patch["flat_threshold"]))
            for y, x in grid(pixels.shape[1], pixels.shape[0], size)]


def inspect_bytes(data: bytes, max_pixels: int, min_side: int,
                  quality: dict | None = None, patch: dict | None = None) -> Inspection:
    """Sniff, check the header, decode, hash, measure and apply the `quality` gates
    (None: measure only) on the `patch` grid (None: the default grid). Size checks
    read the header only: a decompression bomb is never decoded."""
    return examine(data, max_pixels, min_side, quality, patch)[0]


def examine(data: bytes, max_pixels: int, min_side: int, quality: dict | None = None,
            patch: dict | None = None) -> tuple[Inspection, np.ndarray | None]:
    """`inspect_bytes` and the decoded, oriented RGB pixels (None unless status ok)."""
    inspection, pixels, _ = examine_cells(data, max_pixels, min_side, quality, patch)
    return inspection, pixels


def examine_cells(data: bytes, max_pixels: int, min_side: int, quality: dict | None = None,
                  patch: dict | None = None):
    """`examine` and the (y, x, CellFigures) of every grid cell (None unless status ok)."""
    result = Inspection(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))
    fmt, problem = sniff(data)
    if problem:
        return _drop(result, problem, f"magic bytes {data[:8]!r}"), None, None
    result.format = fmt
    try:
        img = decode.open_header(data, fmt)
        size = decode.stored_size(img)
        width, height = size
        result.mode, result.frames = img.mode, decode.frame_count(img)
        if fmt == "jpeg":
            result.jpeg_quality = estimate_quality(getattr(img, "quantization", None) or {})[0]
        _orient_result(result, size, decode.exif_orientation(img))
        if width * height > max_pixels:
            return _drop(result, "decompression_bomb",
                         f"{width}x{height} = {width * height} pixels > {max_pixels}"), None, None
        if min(width, height) < min_side:
            return _drop(result, "too_small",
                         f"short side {min(width, height)} < {min_side}"), None, None
        rgb = decode.pixels_of(data, img, fmt)
        pending = decode.exif_orientation(img)  # what Pillow did not apply itself
        if result.orientation == 1:  # e.g. a PNG eXIf chunk after the pixel data
            _orient_result(result, size, pending)
        pixels = decode.orient(rgb, pending)
    except decode.DecodeError as err:
        return _drop(result, err.reason, err.detail), None, None
    except Exception as exc:
        return _drop(result, "decode_error", describe(exc)), None, None
    work = working.to_working(pixels)
    thumb = hashing.thumbnail(work)
    result.phash, result.dhash = hashing.phash(thumb), hashing.dhash(thumb)
    patch = patch or DEFAULT_PATCH
    cells = measure_cells(pixels, patch)
    result = _apply_gates(result, work, cells, quality)
    if result.status != "ok":
        return result, None, None
    return result, pixels, cells
