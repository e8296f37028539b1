"""Flat-region detector: the share of luminance blocks with no texture to restore.

Each `block` x `block` block is averaged over 2x2 pixels and its gradient energy E
(RMS of neighbouring differences inside the block) is compared with a threshold that
falls in dark tones (TONE_REFERENCE, TONE_OFFSET) and rises with the cell's noise
(NOISE_FACTOR x its deviation, capped at NOISE_FLOOR_MAX), so grain never counts as
texture. Gradient energy, not standard deviation: smooth ramps (sky, bokeh,
vignetting) vary but hold no texture; half resolution halves grain, edges survive.
A cell is flat when flat_fraction > MAX_FLAT_FRACTION (DyNet's rule). Definition and
calibration: FLAT_CALIBRATION.md.
"""

from __future__ import annotations

import cv2
import numpy as np

from irdata.quality.noise import cell_noise

DEFAULT_BLOCK = 16
DEFAULT_THRESHOLD = 4.0
MAX_FLAT_FRACTION = 0.5
TONE_REFERENCE = 64.0
TONE_OFFSET = 32.0
NOISE_FACTOR = 4.0
NOISE_FLOOR_MAX = 8.0


def luminance(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luminance of an HxWx3 uint8 RGB array, uint8 (OpenCV's rounding)."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 RGB array, got shape {rgb.shape}")
    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)


def _neighbour_squares(half: np.ndarray, step: int) -> np.ndarray:
    """dx^2 + dy^2 of adjacent pixels; 0 where the pair crosses a block edge."""
    dx = np.zeros_like(half)
    dy = np.zeros_like(half)
    np.subtract(half[:, 1:], half[:, :-1], out=dx[:, :-1])
    np.subtract(half[1:], half[:-1], out=dy[:-1])
    dx[:, step - 1::step] = 0
    dy[step - 1::step] = 0
    dx *= dx
    dy *= dy
    dx += dy
    return dx


def _check_block(lum: np.ndarray, block: int) -> tuple[int, int]:
    if block < 4 or block % 2:
        raise ValueError(f"block must be an even number >= 4, got {block}")
    rows, cols = lum.shape[0] // block, lum.shape[1] // block
    if rows == 0 or cols == 0:
        raise ValueError(f"a {lum.shape[1]}x{lum.shape[0]} array holds no {block}x{block} block")
    return rows, cols


def block_energy_and_tone(lum: np.ndarray, block: int = DEFAULT_BLOCK
                          ) -> tuple[np.ndarray, np.ndarray]:
    """(gradient energy, mean luminance) of each whole block (rows x cols of blocks)."""
    rows, cols = _check_block(lum, block)
    step = block // 2
    whole = np.asarray(lum[:rows * block, :cols * block], dtype=np.float32)
    half = cv2.resize(whole, (cols * step, rows * step), interpolation=cv2.INTER_AREA)
    mean = cv2.resize(_neighbour_squares(half, step), (cols, rows), interpolation=cv2.INTER_AREA)
    tone = cv2.resize(half, (cols, rows), interpolation=cv2.INTER_AREA)
    # mean covers step*step cells, of which 2*step*(step-1) hold a difference
    return np.sqrt(mean * (step / (2.0 * (step - 1)))), tone


def flat_blocks(lum: np.ndarray, block: int = DEFAULT_BLOCK,
                threshold: float = DEFAULT_THRESHOLD, noise: float | None = None) -> np.ndarray:
    """Boolean rows x cols of blocks: True where the block is flat (see the module doc);
    `noise` is the cell's noise deviation (None: no noise floor)."""
    energy, mean = block_energy_and_tone(lum, block)
    tone = np.minimum(1.0, (mean + TONE_OFFSET) / (TONE_REFERENCE + TONE_OFFSET)) * threshold
    floor = min(NOISE_FACTOR * (noise or 0.0), NOISE_FLOOR_MAX) ** 2
    return energy * energy <= tone * tone + floor


def flat_fraction(rgb: np.ndarray, block: int = DEFAULT_BLOCK,
                  threshold: float = DEFAULT_THRESHOLD, noise: float | None = None) -> float:
    """Share of an RGB cell's flat blocks; `noise` defaults to its own `cell_noise`."""
    lum = luminance(rgb)
    if noise is None:
        noise = cell_noise(lum)
    return float(np.mean(flat_blocks(lum, block, threshold, noise)))
