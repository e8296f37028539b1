"""Inspect one image's bytes: what it is, how big, whether it is usable, its hashes.

Pure: bytes in, an Inspection out; never raises for bad input.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

from PIL import Image

from irdata.imaging import decode, hashing
from irdata.imaging.sniff import sniff


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

    def to_dict(self) -> dict:
        return asdict(self)


def _drop(result: Inspection, reason: str, detail: str) -> Inspection:
    result.status, result.reason, result.detail = "dropped", reason, detail
    return result


def _reduced_decode(img: Image.Image, fmt: str) -> Image.Image:
    """JPEG: decode at the smallest DCT scale still >= the thumbnail (cheap, and it
    still reads every entropy-coded byte, so truncation is caught)."""
    if fmt == "jpeg":
        side = hashing.THUMB_SIDE
        img.draft("RGB", (side, side))
    return decode.load(img)


def inspect_bytes(data: bytes, max_pixels: int, min_side: int) -> Inspection:
    """Sniff, check the header, decode (reduced where possible) and hash."""
    result = Inspection(sha256=hashlib.sha256(data).hexdigest(), bytes=len(data))
    fmt, problem = sniff(data)
    if problem:
        return _drop(result, problem, f"magic bytes {data[:8]!r}")
    result.format = fmt
    try:
        img = decode.open_header(data, fmt)
        width, height = img.size
        result.mode, result.frames = img.mode, decode.frame_count(img)
        result.orientation = decode.exif_orientation(img)
        result.width, result.height = decode.oriented_size((width, height), result.orientation)
        if width * height > max_pixels:
            return _drop(result, "decompression_bomb",
                         f"{width}x{height} = {width * height} pixels > {max_pixels}")
        if min(width, height) < min_side:
            return _drop(result, "too_small", f"short side {min(width, height)} < {min_side}")
        pixels = decode.orient(decode.to_rgb8(_reduced_decode(img, fmt)), result.orientation)
    except decode.DecodeError as err:
        return _drop(result, err.reason, err.detail)
    except Exception as exc:  # noqa: BLE001 - hostile files must never end the run
        return _drop(result, "decode_error", f"{type(exc).__name__}: {exc}"[:300])
    thumb = hashing.thumbnail(pixels)
    result.phash, result.dhash = hashing.phash(thumb), hashing.dhash(thumb)
    return result
