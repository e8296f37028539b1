"""Periodic traces in a cell: interpolation (upscaling) and JPEG's 8x8 grid (pure).

Both are read off the same two profiles: the mean absolute difference between
neighbouring columns, taken down each column (and the same for rows). In a
photograph at native resolution these profiles are flat but for scene content;
processing that works on a fixed pixel grid makes them periodic.

- periodicity: an image enlarged by an interpolating resize (bilinear, bicubic,
  Lanczos) is a weighted sum of its source pixels, with weights that repeat with
  the resize's period: 2 output pixels for 2x, 3 for 1.5x and 3x. For each axis
  the profile's spectrum is compared with its median: the 1/2 cycle/pixel line
  (2x), divided by the larger of the JPEG grid's 1/8 and 3/8 lines (JPEG's grid
  also has a line at 1/2) and at least 1, and the 1/3 cycle/pixel line (1.5x,
  3x); periodicity is the larger of the two, averaged over both axes: ~1 for
  native photographs (camera demosaicing leaves up to ~2), 3-50 for upscales.
  (4x leaves a period-4 pattern shared with the JPEG grid; its band limit is what
  catches it: `spectrum.sharpness`.)
- blockiness: heavy JPEG compression makes the difference across a block edge
  larger than inside blocks. The profile is folded on the 8-pixel period;
  (largest phase mean + c) / (median phase mean + c) with c = SMOOTH_LEVEL grey
  levels, averaged over both axes (the grid's offset in the cell does not
  matter): ~1.0 without a grid, 1.3-2 for heavily compressed JPEGs. c keeps a
  smooth cell (differences of a fraction of a level) from reading a faint grid
  as a strong one.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

BACKGROUND_FROM = 0.05  # cycles/pixel: the profile's spectrum below is scene content
GRID = 8
SMOOTH_LEVEL = 0.5


def profiles(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean |difference| across each column boundary and each row boundary of a uint8
    (or float32) luminance array."""
    across_x = cv2.reduce(cv2.absdiff(grey[:, 1:], grey[:, :-1]), 0, cv2.REDUCE_AVG,
                          dtype=cv2.CV_32F).ravel()
    across_y = cv2.reduce(cv2.absdiff(grey[1:], grey[:-1]), 1, cv2.REDUCE_AVG,
                          dtype=cv2.CV_32F).ravel()
    return across_x, across_y


LINES = (1 / 8, 1 / 3, 3 / 8, 1 / 2)


@functools.lru_cache(maxsize=8)
def _line_bins(length: int) -> tuple[np.ndarray, np.ndarray]:
    """(bins of each line of LINES with a neighbour each side, background bins) of a
    profile of `length` values."""
    freqs = np.fft.rfftfreq(length)
    centres = [int(np.argmin(np.abs(freqs - line))) for line in LINES]
    around = np.array([[max(k - 1, 0), k, min(k + 1, len(freqs) - 1)] for k in centres])
    return around, np.flatnonzero(freqs > BACKGROUND_FROM)


def _lines(profile: np.ndarray) -> dict[float, float]:
    """Each line of LINES in the profile's spectrum over the spectrum's median."""
    values = profile / max(float(profile.mean()), 1e-6)
    magnitude = np.abs(np.fft.rfft(values - values.mean()))
    around, background = _line_bins(len(values))
    level = max(float(np.median(magnitude[background])), 1e-9)
    return dict(zip(LINES, (magnitude[around].max(axis=1) / level).tolist(), strict=True))


def _axis_periodicity(profile: np.ndarray) -> float:
    lines = _lines(profile)
    half = lines[1 / 2] / max(1.0, lines[1 / 8], lines[3 / 8])
    return max(half, lines[1 / 3])


def periodicity(pair: tuple[np.ndarray, np.ndarray]) -> float:
    """Interpolation periodicity from the two `profiles` (see the module doc)."""
    return (_axis_periodicity(pair[0]) + _axis_periodicity(pair[1])) / 2


def _axis_blockiness(profile: np.ndarray) -> float:
    whole = len(profile) // GRID * GRID
    if whole < 2 * GRID:
        return 1.0
    phases = profile[:whole].reshape(-1, GRID).mean(axis=0)
    return float((phases.max() + SMOOTH_LEVEL) / (np.median(phases) + SMOOTH_LEVEL))


def blockiness(pair: tuple[np.ndarray, np.ndarray]) -> float:
    """JPEG grid strength from the two `profiles` (see the module doc)."""
    return (_axis_blockiness(pair[0]) + _axis_blockiness(pair[1])) / 2
