"""Random fields for ``apply`` steps, pure functions of (seed, shape), from OpenCV's generator:
faster than NumPy's, and per thread, so seeding and drawing in one call is deterministic under
threads. Exact values depend on the OpenCV version (recorded in run.json)."""

from __future__ import annotations

import cv2
import numpy as np


def normal(seed: int, shape: tuple[int, ...], sigma: float = 1.0) -> np.ndarray:
    """float32 N(0, sigma^2) of ``shape`` (2-D, or HxWxC)."""
    out = np.empty(shape, np.float32)
    flat = out.reshape(shape[0], -1)
    cv2.setRNGSeed(int(seed))
    cv2.randn(flat, 0.0, float(sigma))
    return out


def uniform(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """float32 uniform in [0, 1) of ``shape``."""
    out = np.empty(shape, np.float32)
    flat = out.reshape(shape[0], -1)
    cv2.setRNGSeed(int(seed))
    cv2.randu(flat, 0.0, 1.0)
    return out


def add_to_channels(image: np.ndarray, plane: np.ndarray) -> np.ndarray:
    """``image[..., c] += plane`` for every channel, in place (no 3-channel temporary)."""
    for channel in range(image.shape[2]):
        view = image[..., channel]
        view += plane
    return image


def smooth(seed: int, height: int, width: int, cell: float) -> np.ndarray:
    """A smooth random field in [0, 1]: uniform noise on a ``cell``-pixel lattice, cubic-upsampled
    to quarter size, then bilinear to full size (cheaper than one cubic resize to full size)."""
    rows = max(2, int(np.ceil(height / cell)) + 1)
    cols = max(2, int(np.ceil(width / cell)) + 1)
    quarter = (max(cols, width // 4), max(rows, height // 4))
    field = cv2.resize(uniform(seed, (rows, cols)), quarter, interpolation=cv2.INTER_CUBIC)
    field = cv2.resize(field, (width, height), interpolation=cv2.INTER_LINEAR)
    low, high, _, _ = cv2.minMaxLoc(field)
    field -= np.float32(low)
    field *= np.float32(1.0 / max(high - low, 1e-6))
    return field
