"""Exposure defects on the 0-255 scale: blown highlights and crushed shadows.

Only pixels whose detail is gone count: a photo's brightness is its style, not a
defect. `tonal_range` is no gate (a foggy or night scene has a short range); dedupe's
keeper rule prefers the copy of a scene with the wider range.
"""

from __future__ import annotations

import cv2
import numpy as np

CLIP_LEVEL = 250
CRUSH_LEVEL = 8


def clipped(rgb: np.ndarray, step: int = 1) -> float:
    """Share of pixels with any channel >= CLIP_LEVEL, over every `step`-th row."""
    rows = rgb[::step]
    below = CLIP_LEVEL - 1
    unclipped = cv2.countNonZero(cv2.inRange(rows, (0, 0, 0), (below, below, below)))
    return 1.0 - unclipped / (rows.shape[0] * rows.shape[1])


def crushed(rgb: np.ndarray, step: int = 1) -> float:
    """Share of pixels with every channel <= CRUSH_LEVEL, over every `step`-th row."""
    rows = rgb[::step]
    level = CRUSH_LEVEL
    black = cv2.countNonZero(cv2.inRange(rows, (0, 0, 0), (level, level, level)))
    return black / (rows.shape[0] * rows.shape[1])


TONAL_PERCENTILE = 0.01
TONAL_REDUCTION = 4


def tonal_range(grey: np.ndarray) -> float:
    """Levels between the 1st and 99th percentiles of uint8 luminance, box-averaged
    TONAL_REDUCTION times first so that noise does not widen it."""
    height, width = grey.shape
    size = (max(1, width // TONAL_REDUCTION), max(1, height // TONAL_REDUCTION))
    small = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    counts = np.bincount(small.ravel(), minlength=256).cumsum()
    low = np.searchsorted(counts, TONAL_PERCENTILE * counts[-1])
    high = np.searchsorted(counts, (1 - TONAL_PERCENTILE) * counts[-1])
    return float(high - low)
