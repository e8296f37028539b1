"""Axis power spectra of one cell and its sharpness.

Rows (x) and columns (y) of the luminance, Hann-windowed, are Fourier-transformed
and their power summed per bin; frequencies in cycles/pixel, 0 to 0.5. sharpness is
10 log10(E[0.25, 0.5) / E[1/16, 0.25)) in dB on the worse axis, each band less the
cell's white-noise floor: blur and upscaling empty the finest octave first, motion
blur in one direction. None when featureless (mid-band RMS < MIN_BAND_RMS).
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np

FINE = (0.25, 0.5001)
MID = (1 / 16, 0.25)
MIN_BAND_RMS = 0.5  # grey levels: below it the cell is featureless
ROW_STEP = 4  # every 4th row and column is transformed


@functools.lru_cache(maxsize=8)
def _window(length: int) -> np.ndarray:
    return np.hanning(length).astype(np.float32)


def _row_power(values: np.ndarray) -> np.ndarray:
    """Power per bin 0..n//2 summed over rows, from OpenCV's packed real spectrum."""
    packed = cv2.dft(values, flags=cv2.DFT_ROWS)
    cv2.multiply(packed, packed, dst=packed)
    sums = cv2.reduce(packed, 0, cv2.REDUCE_SUM, dtype=cv2.CV_64F).ravel()
    n = values.shape[1]
    power = np.empty(n // 2 + 1)
    power[0] = sums[0]
    pairs = (n - 1) // 2
    power[1:pairs + 1] = sums[1:2 * pairs:2] + sums[2:2 * pairs + 1:2]
    if n % 2 == 0:
        power[-1] = sums[-1]
    return power


def axis_spectra(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(power along x, power along y) of float32 luminance per transformed row (column),
    bin k at k / length. Every ROW_STEP-th row is enough; the mean is left in (the
    window keeps it below every band used)."""
    rows = grey[::ROW_STEP] * _window(grey.shape[1])[None, :]
    columns = cv2.transpose(np.ascontiguousarray(grey[:, ::ROW_STEP])
                            * _window(grey.shape[0])[:, None])
    return _row_power(rows) / len(rows), _row_power(columns) / len(columns)


def _band(power: np.ndarray, band: tuple[float, float]) -> float:
    length = 2 * (len(power) - 1)
    lo, hi = (math.ceil(f * length) for f in band)
    return float(power[lo:max(hi, lo + 1)].sum())


WINDOW_SQUARE = 0.375  # mean square of the Hann window
NOISE_KEEPS = 0.5  # removing the noise floor leaves at least this share of a band


def _variance(power: np.ndarray, band: tuple[float, float]) -> float:
    """Luminance variance carried by a band (Parseval, per row, Hann window)."""
    length = 2 * (len(power) - 1)
    return 2 * _band(power, band) / (length * length * WINDOW_SQUARE)


def _without_noise(power: np.ndarray, band: tuple[float, float], noise: float) -> float:
    """A band's power less what white noise of deviation `noise` puts in it (each bin:
    noise^2 * length * WINDOW_SQUARE), never below NOISE_KEEPS of it."""
    length = 2 * (len(power) - 1)
    lo, hi = (math.ceil(f * length) for f in band)
    found = _band(power, band)
    floor = noise * noise * length * WINDOW_SQUARE * (max(hi, lo + 1) - lo)
    return max(found - floor, NOISE_KEEPS * found)


def sharpness(spectra: tuple[np.ndarray, np.ndarray], noise: float | None = None
              ) -> float | None:
    """Finest-octave share of the detail in dB, worse axis, less the white-noise floor of
    deviation `noise` (else noise reads as detail); None if featureless."""
    ratios = []
    for power in spectra:
        if _variance(power, MID) < MIN_BAND_RMS ** 2:
            continue
        fine = _without_noise(power, FINE, noise or 0.0)
        mid = _without_noise(power, MID, noise or 0.0)
        ratios.append(10 * math.log10(max(fine, 1e-12) / mid))
    return min(ratios) if ratios else None

