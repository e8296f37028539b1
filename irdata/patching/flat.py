"""Flat-region detector: the share of small luminance blocks that carry no texture.

Definition (all on the 0-255 scale):

1. Luminance L = 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601), float32.
2. The patch is cut into `block` x `block` blocks; rows and columns that do not
   fill a whole block are ignored. Inside each block L is averaged over 2x2
   pixels (half resolution) and the block's gradient energy is the RMS of the
   differences between horizontally and vertically adjacent half-resolution
   pixels of that block (pairs that cross a block edge are not counted, so a
   block's value depends on its own pixels only).
3. A block is flat when its gradient energy is below `threshold`.
4. flat_fraction = flat blocks / all blocks. A patch is dropped when
   flat_fraction > MAX_FLAT_FRACTION.

Why gradient energy and not the block's standard deviation: smooth ramps
(sky gradients, defocused backgrounds, vignetting) have a large standard
deviation but no texture; their gradient stays small. Why half resolution:
2x2 averaging halves sensor grain and JPEG noise, which otherwise makes plain
walls and skies of high-resolution photos look textured, while edges and
texture survive. The defaults come from benchmarks/flat_calibration.py on the
labelled real patches in tests/data/flat/ (see FLAT_CALIBRATION.md).
"""

from __future__ import annotations

import cv2
import numpy as np

BT601 = (0.299, 0.587, 0.114)
DEFAULT_BLOCK = 16
DEFAULT_THRESHOLD = 4.0
MAX_FLAT_FRACTION = 0.5


def luminance(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luminance of an HxWx3 uint8 RGB array, float32 on the 0-255 scale."""
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 RGB array, got shape {rgb.shape}")
    return cv2.cvtColor(rgb.astype(np.float32), cv2.COLOR_RGB2GRAY)


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


def block_energy(lum: np.ndarray, block: int = DEFAULT_BLOCK) -> np.ndarray:
    """Gradient energy of each whole block of a luminance array (rows x cols of blocks)."""
    if block < 4 or block % 2:
        raise ValueError(f"block must be an even number >= 4, got {block}")
    rows, cols = lum.shape[0] // block, lum.shape[1] // block
    if rows == 0 or cols == 0:
        raise ValueError(f"a {lum.shape[1]}x{lum.shape[0]} array holds no {block}x{block} block")
    step = block // 2
    half = cv2.resize(lum[:rows * block, :cols * block], (cols * step, rows * step),
                      interpolation=cv2.INTER_AREA)
    mean = cv2.resize(_neighbour_squares(half, step), (cols, rows), interpolation=cv2.INTER_AREA)
    # mean covers step*step cells, of which 2*step*(step-1) hold a difference
    return np.sqrt(mean * (step / (2.0 * (step - 1))))


def flat_fraction(rgb: np.ndarray, block: int = DEFAULT_BLOCK,
                  threshold: float = DEFAULT_THRESHOLD) -> float:
    """Share of the patch's blocks whose gradient energy is below `threshold`."""
    return float(np.mean(block_energy(luminance(rgb), block) < threshold))


def is_flat(fraction: float, limit: float = MAX_FLAT_FRACTION) -> bool:
    """True when a patch with this flat fraction is dropped (`flat` reason)."""
    return fraction > limit
