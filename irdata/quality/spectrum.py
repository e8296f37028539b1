"""Axis power spectra of one cell and its sharpness (pure functions).

The luminance of a cell, less its mean and tapered by a Hann window along the
axis, is Fourier-transformed row by row (x) and column by column (y); the power
of each frequency bin is summed over the rows (columns). Frequencies are in
cycles per pixel, 0 to 0.5.

- sharpness: how much of the cell's detail lies in the finest octave, in dB:
  10 log10(E[0.25, 0.5) / E[1/16, 0.25)) on the worse axis. Natural detail at
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
    """(power along x, power along y) of a float32 luminance array; bin k is k / length.

    Every other row (column) is transformed: half the work, and the rows of one
    cell are so alike that the summed spectrum barely moves. The mean is not
    removed: with a Hann window it leaks into bins 0-1 only, below every band used."""
    rows = grey[::2] * _window(grey.shape[1])[None, :]
    columns = cv2.transpose(np.ascontiguousarray(grey[:, ::2]) * _window(grey.shape[0])[:, None])
    return _row_power(rows), _row_power(columns)


def _band(power: np.ndarray, band: tuple[float, float]) -> float:
    length = 2 * (len(power) - 1)
    lo, hi = (math.ceil(f * length) for f in band)
    return float(power[lo:max(hi, lo + 1)].sum())


def _variance(power: np.ndarray, band: tuple[float, float], pixels: int) -> float:
    """Luminance variance carried by a band (Parseval over the transformed half of the
    rows or columns, Hann window's mean square 3/8)."""
    return 2 * _band(power, band) / (pixels / 2 * (len(power) - 1) * 2 * 0.375)


def sharpness(spectra: tuple[np.ndarray, np.ndarray], pixels: int) -> float | None:
    """Finest-octave share of the detail in dB, worse axis; None if featureless."""
    ratios = []
    for power in spectra:
        mid = _band(power, MID)
        if _variance(power, MID, pixels) < MIN_BAND_RMS ** 2:
            continue
        ratios.append(10 * math.log10(max(_band(power, FINE), 1e-12) / mid))
    return min(ratios) if ratios else None


ANISOTROPY_BAND = (0.2, 0.45)  # cycles/pixel: the fine detail motion blur removes
SECTORS = 12  # of 15 degrees


@functools.lru_cache(maxsize=4)
def _window_2d(height: int, width: int) -> np.ndarray:
    return np.outer(_window(height), _window(width))


@functools.lru_cache(maxsize=4)
def _sectors(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """(sector of every bin of a full DFT, SECTORS for bins outside the band; bins
    per sector)."""
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.fftfreq(width)[None, :]
    radius = np.hypot(fx, fy)
    angle = np.degrees(np.arctan2(fy, fx)) % 180
    sector = np.minimum((angle // (180 / SECTORS)).astype(np.int64), SECTORS - 1)
    inside = (radius >= ANISOTROPY_BAND[0]) & (radius < ANISOTROPY_BAND[1])
    labels = np.where(inside, sector, SECTORS).ravel()
    return labels, np.bincount(labels, minlength=SECTORS + 1)[:SECTORS]


def anisotropy(grey: np.ndarray) -> float:
    """How unevenly the fine detail of a float32 luminance cell is spread over
    directions, dB: the strongest over the weakest 15-degree sector of its 2-D power
    spectrum between 0.2 and 0.45 cycles/pixel (Hann window; the mean only moves bins
    near 0, outside the band). Motion blur removes
    the detail along its direction only (15-25 dB); most scenes read 3-15."""
    height, width = grey.shape
    spectrum = cv2.dft(grey * _window_2d(height, width), flags=cv2.DFT_COMPLEX_OUTPUT)
    power = cv2.magnitude(spectrum[..., 0], spectrum[..., 1])
    cv2.multiply(power, power, dst=power)
    labels, counts = _sectors(height, width)
    energy = np.bincount(labels, weights=power.ravel(), minlength=SECTORS + 1)[:SECTORS]
    energy = energy / np.maximum(counts, 1)
    return float(10 * math.log10(max(energy.max(), 1e-12) / max(energy.min(), 1e-12)))
