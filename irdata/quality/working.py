"""The working resolution of the whole-image figures (graphics, clipped / crushed,
tonal range) and of the pHash / dHash thumbnail. Blur, noise and upscaling are
judged per cell at native resolution (irdata.patching.figures).

The image is scaled (never enlarged) to a long side of WORK_SIDE, so a figure means
the same at 2 and 48 MP: first a box average by the 1/2, 1/4 or 1/8 that Pillow's
JPEG `draft` would pick (the figures were calibrated on such decodes; INTER_AREA
from full size reads sharper), then INTER_AREA. 960 leaves the common 4000x3000 and
8000x6000 photos a near-1 final resize.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

WORK_SIDE = 960


def working_size(width: int, height: int, side: int = WORK_SIDE) -> tuple[int, int]:
    """(width, height) at the working resolution: long side `side`, never enlarged."""
    scale = min(1.0, side / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def draft_request(width: int, height: int, side: int = WORK_SIDE) -> tuple[int, int]:
    """The size to pass to Pillow's `draft` so the DCT-scaled decode is >= working size."""
    scale = min(1.0, side / max(width, height))
    return max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale))


def reduction(width: int, height: int, side: int = WORK_SIDE) -> int:
    """The JPEG DCT scale divisor (1, 2, 4 or 8) `draft` picks for the working size."""
    wanted_w, wanted_h = draft_request(width, height, side)
    most = min(width // wanted_w, height // wanted_h)  # Pillow's rule in JpegImageFile.draft
    return next(factor for factor in (8, 4, 2, 1) if most >= factor)


def to_working(rgb: np.ndarray, side: int = WORK_SIDE) -> np.ndarray:
    """HxWx3 uint8 RGB at the working resolution: `reduction` by halvings, then INTER_AREA."""
    height, width = rgb.shape[:2]
    size = working_size(width, height, side)
    if size == (width, height):
        return rgb
    factor = reduction(width, height, side)
    while factor > 1:
        rgb, factor = halve(rgb), factor // 2
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def halve(rgb: np.ndarray) -> np.ndarray:
    """2x2 box average (OpenCV rounding), odd last row / column dropped. Two of them give
    a 4x4 box average within one level, faster than OpenCV's general INTER_AREA."""
    rows, cols = rgb.shape[0] // 2, rgb.shape[1] // 2
    return cv2.resize(rgb[:rows * 2, :cols * 2], (cols, rows), interpolation=cv2.INTER_AREA)


def grey(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luminance as uint8 (OpenCV's rounding)."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def packed_rgb(rgb: np.ndarray) -> np.ndarray:
    """HxW uint32 holding each pixel's R, G, B in bits 0-7, 8-15, 16-23 (little-endian)."""
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2RGBA).view("<u4")[..., 0]


def block_means(values: np.ndarray, block: int) -> np.ndarray:
    """Mean of each whole tile, flattened (float32 input stays float32)."""
    rows, cols = values.shape[0] // block, values.shape[1] // block
    tiles = values[:rows * block, :cols * block]
    return cv2.resize(tiles, (cols, rows), interpolation=cv2.INTER_AREA).ravel()
