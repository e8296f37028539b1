"""Exposure defects: blown highlights and crushed shadows (0-255 scale).

- clipped: share of pixels with any channel >= CLIP_LEVEL (blown highlights).
- crushed: share of pixels with every channel <= CRUSH_LEVEL (shadows crushed
  to black: no detail left to restore).
- tonal_range: luminance levels between the 1st and the 99th percentile of the
  image box-averaged 4x (so that noise does not widen it). Not a gate (a foggy
  or a night scene has a short range): within a cluster of copies of one scene,
  the copy with the wider range is the better ground truth (pulling the exposure
  down compresses the scale; dedupe's keeper rule).

A photo's mean brightness or its darkest tones are its style, not a defect, so
nothing here judges tone; only the share of pixels whose detail is gone.
"""

from __future__ import annotations

import cv2
import numpy as np

CLIP_LEVEL = 250
CRUSH_LEVEL = 8


def clipped(rgb: np.ndarray, step: int = 1) -> float:
    """Share of pixels with at least one channel at or above CLIP_LEVEL (every
    `step`-th row: a share needs no more)."""
    rows = rgb[::step]
    below = CLIP_LEVEL - 1
    unclipped = cv2.countNonZero(cv2.inRange(rows, (0, 0, 0), (below, below, below)))
    return 1.0 - unclipped / (rows.shape[0] * rows.shape[1])


def crushed(rgb: np.ndarray, step: int = 1) -> float:
    """Share of pixels whose every channel is at or below CRUSH_LEVEL (every
    `step`-th row)."""
    rows = rgb[::step]
    level = CRUSH_LEVEL
    black = cv2.countNonZero(cv2.inRange(rows, (0, 0, 0), (level, level, level)))
    return black / (rows.shape[0] * rows.shape[1])


TONAL_PERCENTILE = 0.01
TONAL_REDUCTION = 4


def tonal_range(grey: np.ndarray) -> float:
    """Luminance levels between the 1st and 99th percentiles of a uint8 luminance
    array box-averaged TONAL_REDUCTION times (256-bin histogram)."""
    height, width = grey.shape
    size = (max(1, width // TONAL_REDUCTION), max(1, height // TONAL_REDUCTION))
    small = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
    counts = np.bincount(small.ravel(), minlength=256).cumsum()
    low = np.searchsorted(counts, TONAL_PERCENTILE * counts[-1])
    high = np.searchsorted(counts, (1 - TONAL_PERCENTILE) * counts[-1])
    return float(high - low)
