"""Noise level: a fast estimate of the standard deviation of additive noise, in
grey levels at the working resolution.

Definition (Immerkaer 1996, made robust to texture): the luminance is filtered
with the Laplacian-difference mask [[1,-2,1],[-2,4,-2],[1,-2,1]], which cancels
constant, linear and most smooth content; for white noise of deviation s,
mean |response| * sqrt(pi/2) / 6 = s. That mean is taken per 16x16 block, and
the estimate is the 1st percentile over blocks, i.e. from the smoothest parts of
the image, where texture does not masquerade as noise, divided by P1_BIAS (the
1st percentile of block means of pure white noise is 0.81 of their mean, measured
at the working resolution), so pure noise of deviation s reads s. Blocks touching the
clipped ends (<= 8 or >= 247) are skipped: clipping hides noise.

None when fewer than MIN_BLOCKS blocks qualify: an almost entirely clipped image,
or one too small for a 1st percentile to mean anything (256 blocks of 16 px is a
256x256 image; at `inspect.min_side` 512 every accepted image has >= 1024). With
20 blocks, as before, the estimate of a 104x84 test image was its smoothest block
alone and moved by 8% between OpenCV 5.0 and 5.1.
Sensor noise is averaged down by the scaling to the working resolution, so this
measures noise still visible at ~1 MP.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from irdata.quality.working import block_means, block_tiles

BLOCK = 16
PERCENTILE = 1.0
MIN_BLOCKS = 256
LOW, HIGH = 8, 247
P1_BIAS = 0.81
_MASK = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
_SCALE = math.sqrt(math.pi / 2) / 6


def _unclipped_blocks(grey: np.ndarray) -> np.ndarray:
    tiles = block_tiles(grey, BLOCK)
    return ((tiles.min(axis=2) > LOW) & (tiles.max(axis=2) < HIGH)).ravel()


def noise_sigma(grey: np.ndarray) -> float | None:
    """Estimated noise deviation (grey levels) of a uint8 luminance array; None if unmeasurable."""
    if min(grey.shape) < BLOCK:
        return None
    response = np.abs(cv2.filter2D(grey.astype(np.float32), -1, _MASK,
                                   borderType=cv2.BORDER_REFLECT))
    blocks = block_means(response, BLOCK)[_unclipped_blocks(grey)]
    if len(blocks) < MIN_BLOCKS:
        return None
    return float(np.percentile(blocks, PERCENTILE) * _SCALE / P1_BIAS)


CELL_MIN_BLOCKS = 16
RESPONSE_SCALE = 8
_LINE = np.array([1, -2, 1], np.float32)  # the mask is the outer product of this line
_LINE_16S = _LINE * RESPONSE_SCALE


def cell_noise(grey: np.ndarray) -> float | None:
    """Noise deviation (grey levels) of one uint8 luminance cell at native resolution:
    the estimate above over the cell's own 16x16 blocks (a 512 cell has 1024, so its
    1st percentile is its ~10 smoothest blocks). None when fewer than CELL_MIN_BLOCKS
    blocks are unclipped (a black or blown-out cell)."""
    if min(grey.shape) < BLOCK:
        return None
    # integer mask x RESPONSE_SCALE: |response| <= 16 * 8 * 255 fits int16; block means
    # of int16 round to 1/8 grey level
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
