"""Sharpness: how much of an image's finest detail survives, independent of how
much detail (texture, contrast) the scene has.

Definition, on working-resolution luminance g (0-255), for each axis a in (x, y):

1. g1, g2 = g smoothed along a by 1-D Gaussians of sigma 1 and 2 pixels;
   fine = (g - g1)^2 (the finest octave), band = (g1 - g2)^2 (the next one).
2. Mean fine and band energy per 16x16 block; keep the 10% of blocks with the
   most band energy (the most detailed places: a sharp subject in front of a
   soft background counts as sharp).
3. ratio_a = sum(fine) / sum(band) over those blocks.

sharpness = min(ratio_x, ratio_y): the ratio falls with any blur (natural
scenes have a ~1/f spectrum, so sharp photos sit near the same ratio whatever
they show), and taking the worse axis catches motion blur. Measured on the
working image, it sees blur visible at ~1 MP; it cannot see that a large source
was upscaled from a smaller one.

None when the image is featureless (the detailed blocks' band energy is below
MIN_BAND_ENERGY: a plain colour or a smooth gradient): nothing to judge, and the
patch stage's flat filter handles such images.
"""

from __future__ import annotations

import cv2
import numpy as np

from irdata.quality.working import block_means

BLOCK = 16
TOP_SHARE = 0.10
MIN_BAND_ENERGY = 0.25  # grey levels^2 (RMS 0.5 level)


def _gaussian(sigma: float) -> np.ndarray:
    radius = int(3 * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float32)
    kernel = np.exp(-x * x / (2 * sigma * sigma))
    return (kernel / kernel.sum()).astype(np.float32)


_FINE, _COARSE = _gaussian(1.0), _gaussian(2.0)


def _smooth(g: np.ndarray, kernel: np.ndarray, axis: str) -> np.ndarray:
    shaped = kernel.reshape(1, -1) if axis == "x" else kernel.reshape(-1, 1)
    return cv2.filter2D(g, -1, shaped, borderType=cv2.BORDER_REFLECT)


def _axis_energies(g: np.ndarray, axis: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-block fine and band energy along one axis (in place: no large temporaries)."""
    g1, g2 = _smooth(g, _FINE, axis), _smooth(g, _COARSE, axis)
    band = np.subtract(g1, g2, out=g2)
    fine = np.subtract(g, g1, out=g1)
    np.multiply(band, band, out=band)
    np.multiply(fine, fine, out=fine)
    return block_means(fine, BLOCK), block_means(band, BLOCK)


def sharpness(grey: np.ndarray) -> float | None:
    """Fine-to-band energy ratio of the most detailed blocks, worse axis; None if featureless."""
    g = grey.astype(np.float32)
    if min(g.shape) < BLOCK:
        return None
    ratios = []
    for axis in ("x", "y"):
        fine, band = _axis_energies(g, axis)
        count = max(1, int(len(band) * TOP_SHARE))
        top = np.argpartition(band, len(band) - count)[-count:]
        if band[top].mean() < MIN_BAND_ENERGY:
            continue
        ratios.append(float(fine[top].sum() / band[top].sum()))
    return min(ratios) if ratios else None
