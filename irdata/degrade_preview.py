"""`irdata degrade preview IMAGE --out sheet.png`: read any image, write the sheet."""

from __future__ import annotations

import os

import cv2

from irdata.degrade.preview import preview_sheet
from irdata.errors import UsageError
from irdata.imaging.decode import DecodeError, decode_rgb
from irdata.imaging.sniff import sniff


def write_preview(image_path: str, out_path: str, seed: int = 0, tile: int = 384) -> None:
    """Decode `image_path` with irdata's own rules and write the preview sheet as PNG."""
    if not os.path.isfile(image_path):
        raise UsageError(f"image not found: {image_path}")
    if not out_path.lower().endswith(".png"):
        raise UsageError(f"--out must name a .png file, got {out_path}")
    with open(image_path, "rb") as fh:
        data = fh.read()
    fmt, problem = sniff(data)
    if problem:
        raise UsageError(f"{image_path}: not a supported image ({problem})")
    try:
        rgb = decode_rgb(data, fmt)
    except DecodeError as err:
        raise UsageError(f"{image_path}: cannot decode ({err.reason})") from None
    sheet = preview_sheet(rgb, seed=seed, tile=tile)
    os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
    if not cv2.imwrite(out_path, cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
        raise UsageError(f"cannot write {out_path}")
