"""PSNR and SSIM on RGB in [0, 1], as DyNet and PromptIR report them: equal to scikit-image's
with data_range=1 and its defaults (7x7 uniform window, K1 0.01, K2 0.03, sample covariance,
mean less a 3 px border, then over channels), in float64 with OpenCV box filters."""

from __future__ import annotations

import cv2
import numpy as np

WINDOW = 7
K1, K2 = 0.01, 0.03


def _as_float(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype == np.uint8:
        return image.astype(np.float64) / 255.0
    return image.astype(np.float64)


def _check(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"images differ in shape: {a.shape} vs {b.shape}")
    if a.ndim != 3 or min(a.shape[:2]) < WINDOW:
        raise ValueError(f"expected HxWxC images at least {WINDOW} px on a side, got {a.shape}")


def psnr(gt: np.ndarray, out: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB (data range 1; uint8 is scaled by 1/255)."""
    gt, out = _as_float(gt), _as_float(out)
    _check(gt, out)
    mse = float(np.mean((gt - out) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(1.0 / mse)


def _box(image: np.ndarray) -> np.ndarray:
    return cv2.blur(image, (WINDOW, WINDOW), borderType=cv2.BORDER_REFLECT)


def _ssim_channel(x: np.ndarray, y: np.ndarray) -> float:
    cov_norm = WINDOW * WINDOW / (WINDOW * WINDOW - 1.0)
    ux, uy = _box(x), _box(y)
    vx = cov_norm * (_box(x * x) - ux * ux)
    vy = cov_norm * (_box(y * y) - uy * uy)
    vxy = cov_norm * (_box(x * y) - ux * uy)
    c1, c2 = K1 ** 2, K2 ** 2
    s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2))
    pad = (WINDOW - 1) // 2
    return float(s[pad:-pad, pad:-pad].mean())


def ssim(gt: np.ndarray, out: np.ndarray) -> float:
    """Mean structural similarity over the channels (data range 1)."""
    gt, out = _as_float(gt), _as_float(out)
    _check(gt, out)
    return float(np.mean([_ssim_channel(gt[..., c], out[..., c]) for c in range(gt.shape[2])]))
