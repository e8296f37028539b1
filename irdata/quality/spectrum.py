"""Axis power spectra of one cell and its sharpness (pure functions).

The luminance of a cell, less its mean and tapered by a Hann window along the
axis, is Fourier-transformed row by row (x) and column by column (y); the power
of each frequency bin is summed over the rows (columns). Frequencies are in
cycles per pixel, 0 to 0.5.

- sharpness: how much of the cell's detail lies in the finest octave, in dB:
  10 log10(E[0.25, 0.5) / E[1/16, 0.25)) on the worse axis, each band less the
  cell's white-noise floor. Natural detail at
  native resolution falls off smoothly to 0.5 cycles/pixel; blur, motion blur
  and upscaling (an image enlarged s times has almost nothing above 0.5/s)
  empty the finest octave first. Worse axis: motion blur empties one direction.
  None for a featureless cell (mid-band RMS below MIN_BAND_RMS grey levels).
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
    """Power per frequency bin 0..n//2 of every row, summed over rows (OpenCV's
    packed real spectrum: Re0, Re1, Im1, ..., with Re(n/2) last when n is even)."""
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
    """(power along x, power along y) of a float32 luminance array, per transformed
    row (column); bin k is k / length.

    Every ROW_STEP-th row (column) is transformed: a quarter of the work, and the
    rows of one cell are so alike that the averaged spectrum barely moves. The mean is not
    removed: with a Hann window it leaks into bins 0-1 only, below every band used."""
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
    """Finest-octave share of the detail in dB, worse axis, with the white-noise floor
    of deviation `noise` (the cell's estimate) taken out of both bands: noise would
    otherwise read as fine detail, so a noisy copy would look sharper than its
    original and a blurred one's lost noise would not show. None if featureless."""
    ratios = []
    for power in spectra:
        if _variance(power, MID) < MIN_BAND_RMS ** 2:
            continue
        fine = _without_noise(power, FINE, noise or 0.0)
        mid = _without_noise(power, MID, noise or 0.0)
        ratios.append(10 * math.log10(max(fine, 1e-12) / mid))
    return min(ratios) if ratios else None

