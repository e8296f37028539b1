"""Exposure figures of a working-resolution image (0-255 scale).

- brightness: mean luminance; a very high mean is an overexposed, washed-out image.
- highlights: the 99th percentile of luminance; an underexposed photo has no
  highlights at all (night scenes keep their lights and stars, so the mean alone
  would mistake them for underexposure).
- clipped: share of pixels with any channel >= CLIP_LEVEL (blown highlights).
"""

from __future__ import annotations

import cv2
import numpy as np

CLIP_LEVEL = 250
HIGHLIGHT_PERCENTILE = 0.99


def brightness(grey: np.ndarray) -> float:
    return float(grey.mean())


def highlights(grey: np.ndarray) -> float:
    """Luminance below which 99% of the pixels lie (from the 256-bin histogram)."""
    counts = np.bincount(grey.ravel(), minlength=256).cumsum()
    return float(np.searchsorted(counts, HIGHLIGHT_PERCENTILE * counts[-1]))


def clipped(rgb: np.ndarray) -> float:
    """Share of pixels with at least one channel at or above CLIP_LEVEL."""
    below = CLIP_LEVEL - 1
    unclipped = cv2.countNonZero(cv2.inRange(rgb, (0, 0, 0), (below, below, below)))
    return 1.0 - unclipped / (rgb.shape[0] * rgb.shape[1])
