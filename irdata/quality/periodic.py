"""Resampling traces: the periodic pattern interpolation leaves in a cell (pure).

An image enlarged by an interpolating resize (bilinear, bicubic, Lanczos) is a
weighted sum of its source pixels, with weights that repeat with the resize's
period: 2 output pixels for 2x (and 4x), 3 for 1.5x and 3x. The mean absolute
difference between neighbouring columns (rows), taken down each column (row),
therefore oscillates with that period; in a photograph at native resolution
it does not. For each axis the profile's spectrum is compared with its median:

- the 1/2 cycle/pixel line (2x, 4x), divided by the larger of the JPEG grid's
  1/8 and 3/8 lines (a JPEG's 8x8 grid also has a line at 1/2) and at least 1;
- the 1/3 cycle/pixel line (1.5x, 3x).

periodicity = the larger of the two, averaged over both axes; ~1 for native
photographs (camera demosaicing leaves ~2), 2-50 for upscales.
"""

from __future__ import annotations

import cv2
import numpy as np

BACKGROUND_FROM = 0.05  # cycles/pixel: the profile's spectrum below is scene content


def _lines(profile: np.ndarray) -> dict[float, float]:
    values = profile / max(float(profile.mean()), 1e-6)
    magnitude = np.abs(np.fft.rfft(values - values.mean()))
    freqs = np.fft.rfftfreq(len(values))
    background = max(float(np.median(magnitude[freqs > BACKGROUND_FROM])), 1e-9)
    found = {}
    for line in (1 / 8, 1 / 3, 3 / 8, 1 / 2):
        k = int(np.argmin(np.abs(freqs - line)))
        found[line] = float(magnitude[max(k - 1, 0):k + 2].max()) / background
    return found


def _axis_periodicity(profile: np.ndarray) -> float:
    lines = _lines(profile)
    half = lines[1 / 2] / max(1.0, lines[1 / 8], lines[3 / 8])
    return max(half, lines[1 / 3])


def periodicity(grey: np.ndarray) -> float:
    """Interpolation periodicity of a uint8 (or float32) luminance array (see the module doc)."""
    across_x = cv2.reduce(cv2.absdiff(grey[:, 1:], grey[:, :-1]), 0, cv2.REDUCE_AVG,
                          dtype=cv2.CV_32F).ravel()
    across_y = cv2.reduce(cv2.absdiff(grey[1:], grey[:-1]), 1, cv2.REDUCE_AVG,
                          dtype=cv2.CV_32F).ravel()
    return (_axis_periodicity(across_x) + _axis_periodicity(across_y)) / 2
