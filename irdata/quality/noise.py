"""Noise of one cell: the deviation of additive noise, in grey levels at native resolution.

Immerkaer (1996), made robust to texture: the separable mask [1,-2,1]^T [1,-2,1]
cancels smooth content, and for white noise of deviation s, mean |response| *
sqrt(pi/2) / 6 = s. The mean is taken per BLOCK x BLOCK block and the 1st percentile
over blocks kept (there texture does not pass for noise), divided by P1_BIAS (that
percentile of white-noise block means over their mean). Blocks touching LOW or HIGH
are skipped: clipping hides noise. Fine texture edge to edge reads as noise, so
irdata.patching.flat caps what it takes from this figure.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from irdata.quality.working import block_means

BLOCK = 16
PERCENTILE = 1.0
LOW, HIGH = 8, 247
P1_BIAS = 0.81
CELL_MIN_BLOCKS = 16
RESPONSE_SCALE = 8  # the mask x 8 in int16: |response| <= 16 * 8 * 255 fits
_LINE = np.array([1, -2, 1], np.float32)
_LINE_16S = _LINE * RESPONSE_SCALE
_SCALE = math.sqrt(math.pi / 2) / 6


def cell_noise(grey: np.ndarray) -> float | None:
    """Noise deviation (grey levels) of one uint8 luminance cell; None when fewer than
    CELL_MIN_BLOCKS blocks are unclipped (a black or blown-out cell)."""
    if min(grey.shape) < BLOCK:
        return None
    # block means of int16 round to 1/RESPONSE_SCALE grey level
    response = cv2.sepFilter2D(grey, cv2.CV_16S, _LINE, _LINE_16S, borderType=cv2.BORDER_REFLECT)
    response = np.abs(response, out=response)
    inside = cv2.inRange(grey, LOW + 1, HIGH - 1)  # 255 where neither clipped end
    unclipped = block_means(inside, BLOCK) == 255  # INTER_AREA rounds: 255 = every pixel
    blocks = block_means(response, BLOCK)[unclipped]
    if len(blocks) < CELL_MIN_BLOCKS:
        return None
    k = int(len(blocks) * PERCENTILE / 100)  # the 1st percentile's block (lower rank)
    low = np.partition(blocks, [k, min(k + 1, len(blocks) - 1)])
    rank = (len(blocks) - 1) * PERCENTILE / 100  # as np.percentile interpolates
    value = low[k] + (low[min(k + 1, len(blocks) - 1)] - low[k]) * (rank - k)
    return float(value * _SCALE / P1_BIAS / RESPONSE_SCALE)
