"""Periodic traces in a cell: interpolation (upscaling) and JPEG's 8x8 grid.

Both read the `profiles`, flat at native resolution and periodic after processing
on a fixed pixel grid.
- periodicity: a resize repeats its weights with its period (2 px for 2x, 3 for 1.5x
  and 3x). Per axis, the larger of the 1/2 cycle/pixel line (over JPEG's 1/8 and 3/8
  lines, at least 1: JPEG's grid has a 1/2 line too) and the 1/3 line, each over the
  spectrum's median; mean of both axes. 4x shares JPEG's period: `spectrum.sharpness`
  catches it.
- blockiness: the profile folded on GRID px, (largest phase + c) / (median phase + c),
  mean of both axes; c = SMOOTH_LEVEL keeps a smooth cell's faint grid faint.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np

BACKGROUND_FROM = 0.05  # cycles/pixel: the profile's spectrum below is scene content
GRID = 8
SMOOTH_LEVEL = 0.5


def profiles(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean |difference| across each column and each row boundary of uint8 (or float32)
    luminance."""
    across_x = cv2.reduce(cv2.absdiff(grey[:, 1:], grey[:, :-1]), 0, cv2.REDUCE_AVG,
                          dtype=cv2.CV_32F).ravel()
    across_y = cv2.reduce(cv2.absdiff(grey[1:], grey[:-1]), 1, cv2.REDUCE_AVG,
                          dtype=cv2.CV_32F).ravel()
    return across_x, across_y


LINES = (1 / 8, 1 / 3, 3 / 8, 1 / 2)


@functools.lru_cache(maxsize=8)
def _line_bins(length: int) -> tuple[np.ndarray, np.ndarray]:
    """(bins of each line of LINES and its neighbours, background bins) for `length`."""
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
