"""A PNG writer for 8-bit RGB: one fixed row filter (numpy) and ISA-L deflate.

Pure: HxWx3 uint8 in, standard PNG bytes (IHDR, one IDAT, IEND) out. ISA-L
(`isal.isal_zlib`, levels 0-3) is faster than zlib's fastest setting with smaller
files, and releases the GIL (benchmarks/png_settings.py, BENCHMARKS.md).
"""

from __future__ import annotations

import struct

import numpy as np

try:
    from isal import isal_zlib
except ImportError:  # a broken install: say what to do when a PNG is asked for
    isal_zlib = None

SIGNATURE = b"\x89PNG\r\n\x1a\n"
FILTERS = {"none": 0, "sub": 1, "up": 2}  # PNG filter type bytes
LEVELS = range(0, 4)  # ISA-L compression levels


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = isal_zlib.crc32(data, isal_zlib.crc32(kind))
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def filtered_rows(rgb: np.ndarray, row_filter: str = "up") -> np.ndarray:
    """The PNG scanlines of an RGB array: each row led by its filter type byte."""
    height, width = rgb.shape[:2]
    rows = rgb.reshape(height, width * 3)
    out = np.empty((height, width * 3 + 1), np.uint8)
    out[:, 0] = FILTERS[row_filter]
    if row_filter == "up":
        out[0, 1:] = rows[0]
        np.subtract(rows[1:], rows[:-1], out=out[1:, 1:])
    elif row_filter == "sub":
        out[:, 1:4] = rows[:, :3]
        np.subtract(rows[:, 3:], rows[:, :-3], out=out[:, 4:])
    else:
        out[:, 1:] = rows
    return out


def write_png(rgb: np.ndarray, level: int = 1, row_filter: str = "up") -> bytes:
    """Lossless PNG bytes of an HxWx3 uint8 RGB array (strided views are fine)."""
    if isal_zlib is None:
        raise RuntimeError("patch.png_encoder 'isal' needs the isal package (pip install "
                           "isal, an irdata dependency), or set patch.png_encoder: opencv")
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"write_png needs HxWx3 uint8, got {rgb.dtype} {rgb.shape}")
    if level not in LEVELS:
        raise ValueError(f"ISA-L level must be 0-3, got {level}")
    if row_filter not in FILTERS:
        raise ValueError(f"row filter must be one of {sorted(FILTERS)}, got {row_filter!r}")
    height, width = rgb.shape[:2]
    if rgb.strides[1:] != (3, 1):
        rgb = np.ascontiguousarray(rgb)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    data = isal_zlib.compress(filtered_rows(rgb, row_filter), level)
    return b"".join([SIGNATURE, _chunk(b"IHDR", header), _chunk(b"IDAT", data),
                     _chunk(b"IEND", b"")])
