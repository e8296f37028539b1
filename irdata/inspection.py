"""Inspect one image's bytes: format, size, usability, hashes and quality figures.

Pure: bytes in, an Inspection out; never raises for bad input. One full decode:
`examine_cells` also returns the pixels and each grid cell's figures, so fetch cuts
cells from it. Hashes use the working resolution; sharpness, periodicity and noise
come from the native-resolution cells. Without `quality` settings nothing is dropped.
"""

from __future__ import annotations

import hashlib
import json
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
    # The strongest exclusion-set match (irdata/exclude), and every contained region
    # as JSON [{set, file, kind, distance, box: [x0, y0, x1, y1]}].
    excluded_set: str | None = None
    excluded_file: str | None = None
    excluded_kind: str | None = None
    excluded_distance: float | None = None
    excluded_regions: str | None = None

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


def _apply_exclusions(result: Inspection, pixels: np.ndarray, work: np.ndarray,
                      exclusions) -> bool:
    """Record the exclusion matches (`exclusions.find`, an irdata.exclude index); True
    when the whole image is an evaluation image (dropped, reason `excluded`)."""
    matches = exclusions.find(result.sha256, pixels, work, result.phash, result.dhash)
    if not matches:
        return False
    first = matches[0]
    result.excluded_set, result.excluded_file = first.set, first.file
    result.excluded_kind, result.excluded_distance = first.kind, first.distance
    if first.whole:
        _drop(result, "excluded", f"{first.set}/{first.file} ({first.kind}, distance "
                                  f"{first.distance:g})")
        return True
    result.excluded_regions = json.dumps([
        {"set": m.set, "file": m.file, "kind": m.kind, "distance": m.distance,
         "box": list(m.region)} for m in matches if not m.whole])
    return False


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
                  patch: dict | None = None, exclusions=None):
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
    if exclusions is not None and _apply_exclusions(result, pixels, work, exclusions):
        return result, None, None
    patch = patch or DEFAULT_PATCH
    cells = measure_cells(pixels, patch)
    result = _apply_gates(result, work, cells, quality)
    if result.status != "ok":
        return result, None, None
    return result, pixels, cells
