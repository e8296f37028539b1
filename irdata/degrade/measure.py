"""Measurements of rain residuals (tests, realism benchmark), on an HxW float32 map in [0, 1]:
a rain layer, or the positive part of ``rainy - clean`` on luminance."""

from __future__ import annotations

import math

import cv2
import numpy as np


def luminance(image: np.ndarray) -> np.ndarray:
    """BT.601 luma of a float RGB image."""
    return cv2.cvtColor(np.ascontiguousarray(image, np.float32), cv2.COLOR_RGB2GRAY)


def residual(rainy: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """Positive part of luma(rainy) - luma(clean)."""
    return np.maximum(luminance(rainy) - luminance(clean), 0.0)


def split_veil(res: np.ndarray, size: int = 9) -> tuple[np.ndarray, np.ndarray]:
    """(streaks, veil): a grey opening of ``size`` px leaves the veil; streaks = white top-hat."""
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    veil = cv2.morphologyEx(res, cv2.MORPH_OPEN, kernel)
    return res - veil, veil


def streak_angle(layer: np.ndarray) -> float:
    """Dominant streak direction (structure tensor), degrees from vertical, positive for ``\\``."""
    smooth = cv2.GaussianBlur(np.ascontiguousarray(layer, np.float32), (0, 0), 1.0)
    gx = cv2.Scharr(smooth, cv2.CV_32F, 1, 0)
    gy = cv2.Scharr(smooth, cv2.CV_32F, 0, 1)
    jxx, jyy, jxy = float((gx * gx).sum()), float((gy * gy).sum()), float((gx * gy).sum())
    gradient = 0.5 * math.degrees(math.atan2(2 * jxy, jxx - jyy))  # from x, y down
    return -gradient


def anisotropy(layer: np.ndarray) -> float:
    """Coherence of the structure tensor: 0 isotropic, 1 all streaks parallel."""
    smooth = cv2.GaussianBlur(np.ascontiguousarray(layer, np.float32), (0, 0), 1.0)
    gx = cv2.Scharr(smooth, cv2.CV_32F, 1, 0)
    gy = cv2.Scharr(smooth, cv2.CV_32F, 0, 1)
    jxx, jyy, jxy = float((gx * gx).sum()), float((gy * gy).sum()), float((gx * gy).sum())
    return math.sqrt((jxx - jyy) ** 2 + 4 * jxy ** 2) / max(jxx + jyy, 1e-12)


def _autocorrelation(layer: np.ndarray) -> np.ndarray:
    """Normalised autocorrelation (zero lag at the centre), zero-padded FFT."""
    centred = layer.astype(np.float64) - float(layer.mean())
    height, width = centred.shape
    spectrum = np.fft.rfft2(centred, s=(2 * height, 2 * width))
    corr = np.fft.irfft2(np.abs(spectrum) ** 2, s=(2 * height, 2 * width))
    corr = np.fft.fftshift(corr)
    return (corr / max(corr[height, width], 1e-12)).astype(np.float32)


def _half_lag(corr: np.ndarray, dx: float, dy: float, limit: int) -> float:
    """Lag (px) at which the autocorrelation along (dx, dy) first falls to 0.5."""
    cy, cx = corr.shape[0] // 2, corr.shape[1] // 2
    lags = np.arange(0, limit, 0.25, dtype=np.float32)
    xs = (cx + lags * dx).reshape(1, -1).astype(np.float32)
    ys = (cy + lags * dy).reshape(1, -1).astype(np.float32)
    profile = cv2.remap(corr, xs, ys, cv2.INTER_LINEAR)[0]
    below = np.nonzero(profile < 0.5)[0]
    if below.size == 0:
        return float(limit)
    i = int(below[0])
    a, b = float(profile[i - 1]), float(profile[i])
    return float(lags[i - 1] + (a - 0.5) / max(a - b, 1e-9) * (lags[i] - lags[i - 1]))


def streak_length_width(layer: np.ndarray, angle: float | None = None) -> tuple[float, float]:
    """(length, width) px from the autocorrelation along / across the streaks: a box of length
    L halves at L / 2; a Gaussian of FWHM w has an autocorrelation of FWHM w sqrt(2)."""
    angle = streak_angle(layer) if angle is None else angle
    corr = _autocorrelation(layer)
    rad = math.radians(angle)
    along = _half_lag(corr, math.sin(rad), math.cos(rad), min(layer.shape) // 2)
    across = _half_lag(corr, math.cos(rad), -math.sin(rad), 32)
    return 2.0 * along, 2.0 * across / math.sqrt(2.0)


def rain_stats(res: np.ndarray, threshold: float = 0.1) -> dict:
    """Summary of one residual: veil level, streak intensity, rain share, angle, length, width."""
    streaks, veil = split_veil(res)
    angle = streak_angle(streaks)
    length, width = streak_length_width(streaks, angle)
    rain = streaks > threshold
    return {
        "mean": float(res.mean()), "std": float(res.std()),
        "veil": float(np.median(veil)),
        "rain_share": float(rain.mean()),
        "rain_mean": float(streaks[rain].mean()) if rain.any() else 0.0,
        "rain_p90": float(np.percentile(streaks[rain], 90)) if rain.any() else 0.0,
        "angle": angle, "coherence": anisotropy(streaks),
        "length": length, "width": width,
    }
