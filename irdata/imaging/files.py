"""Image files for eval and restore: read as the build reads them, write by extension."""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

from irdata.errors import UsageError
from irdata.imaging.decode import DecodeError, decode_rgb
from irdata.imaging.sniff import sniff

WRITE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".tif": "TIFF",
                 ".tiff": "TIFF", ".bmp": "BMP", ".webp": "WEBP"}


def read_rgb(path: str) -> np.ndarray:
    """HxWx3 uint8 RGB of an image file; UsageError naming the file if it is not one."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    fmt, reason = sniff(data)
    if not fmt:
        raise UsageError(f"{path}: not a readable image ({reason})")
    try:
        return decode_rgb(data, fmt)
    except DecodeError as exc:
        raise UsageError(f"{path}: {exc.reason}: {exc.detail}") from None


def check_writable(path: str) -> str:
    """The Pillow format for `path`'s extension, or UsageError."""
    fmt = WRITE_FORMATS.get(os.path.splitext(path)[1].lower())
    if fmt is None:
        raise UsageError(f"{path}: unknown image extension "
                         f"(use {', '.join(sorted(WRITE_FORMATS))})")
    return fmt


def write_rgb(path: str, rgb: np.ndarray) -> None:
    """Write an HxWx3 uint8 array; PNG and TIFF are lossless, JPEG at quality 95."""
    fmt = check_writable(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    options = {"quality": 95} if fmt in ("JPEG", "WEBP") else {}
    tmp = f"{path}.tmp-{os.getpid()}"
    Image.fromarray(rgb).save(tmp, format=fmt, **options)
    os.replace(tmp, path)
