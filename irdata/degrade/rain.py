"""Synthetic rain streaks, screen-blended: ``I = 1 - (1 - J)(1 - R)``; aux: the rain layer R.

Each layer is drawn in a frame rotated so its streaks are vertical: sparse seeds (a share
``density`` of the pixels), stretched by a box of ``length`` px, widened by a Gaussian of
FWHM ``thickness`` px, softened at the ends, rotated back; layers add up, clipped to 1.
The frame is up to 4x coarser along the streaks (less work, no visible change).
``density`` is drawn through ``coverage`` (streak area per image area) unless set, so the
amount of rain does not depend on the streak size. ``angle``: the wind, degrees from
vertical, positive = falling to the right (``\\``); each layer adds up to +-``spread``.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from . import fields, ranges
from .seeding import draw_seed

NAME = "rain"
# Ranges chosen against Rain100H with benchmarks/rain_realism.py (README.md):
# streak width, intensity, length and orientation coherence match; the amount spans
# light rain (1 layer at coverage 0.05: ~3% rain pixels) up to Rain100H's heavy rain
# (3 layers near coverage 0.6: ~45%, its median); PRESETS["heavy"] draws only the latter.
DEFAULTS = {
    "layers": [1, 3],
    "angle": [-15.0, 15.0],
    "spread": [0.0, 8.0],
    "coverage": [0.05, 0.6],
    "density": None,
    "length": [10.0, 70.0],
    "thickness": [0.9, 1.7],
    "brightness": [0.3, 0.65],
}
# "heavy" was chosen on the first half of the Rain100H sample (benchmarks/rain_realism.py
# --half A) and is reported on the second half (README.md, "Rain realism").
PRESETS = {
    "heavy": {"layers": [2, 3], "angle": [-6.0, 6.0], "spread": [0.0, 4.0],
              "coverage": [0.7, 1.0], "length": [30.0, 90.0], "thickness": [0.9, 1.6],
              "brightness": [0.28, 0.38]},
}
LEVELS = {
    "low": {"layers": 1, "coverage": 0.1, "length": 20, "angle": 8, "spread": 0,
            "thickness": 1.0, "brightness": 0.45},
    "mid": {"layers": 2, "coverage": 0.2, "length": 35, "angle": 8, "spread": 4,
            "thickness": 1.2, "brightness": 0.5},
    "high": {"layers": 3, "coverage": 0.35, "length": 50, "angle": 8, "spread": 6,
             "thickness": 1.4, "brightness": 0.55},
}
END_SOFTNESS = 2.0  # px, Gaussian sigma along the streak


def _layer(rng: np.random.Generator, cfg: dict, angle: float, spread: float) -> dict:
    """One layer's params; density from coverage unless the config fixes it."""
    layer = {"angle": angle + spread * (2.0 * rng.random() - 1.0)}
    for key in ("length", "thickness", "brightness"):
        layer[key] = ranges.uniform(rng, cfg[key])
    if cfg["density"] is None:
        area = layer["length"] * max(layer["thickness"], 1.0)
        layer["density"] = ranges.uniform(rng, cfg["coverage"]) / area
    else:
        layer["density"] = ranges.uniform(rng, cfg["density"])
    if not 0.0 < layer["density"] <= 0.25:
        raise ValueError(f"{NAME}: density must be in (0, 0.25], got {layer['density']}")
    return layer


def sample(rng: np.random.Generator, config: dict | None = None) -> dict:
    """{"angle", "seed", "layers": [{"angle", "length", "thickness", "brightness", "density"}]}."""
    cfg = ranges.resolve(DEFAULTS, config, NAME)
    count = ranges.integer(rng, cfg["layers"])
    if not 1 <= count <= 8:
        raise ValueError(f"{NAME}: layers must be 1-8, got {count}")
    angle = ranges.uniform(rng, cfg["angle"])
    spread = ranges.uniform(rng, cfg["spread"])
    layers = [_layer(rng, cfg, angle, spread) for _ in range(count)]
    return {"angle": angle, "layers": layers, "seed": draw_seed(rng)}


def _frame(height: int, width: int, angle: float, length: float, squeeze: int
           ) -> tuple[int, int, np.ndarray]:
    """Frame size (``squeeze`` x coarser along the streaks) and the image -> frame affine map."""
    c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    margin = int(length / 2 + 4 * END_SOFTNESS) // squeeze + 2
    frame_w = int(math.ceil(width * abs(c) + height * abs(s))) + 4
    frame_h = int(math.ceil((width * abs(s) + height * abs(c)) / squeeze)) + 2 * margin
    cx, cy = (width - 1) / 2.0, (height - 1) / 2.0
    fx, fy = (frame_w - 1) / 2.0, (frame_h - 1) / 2.0
    matrix = np.array([[c, -s, fx - (c * cx - s * cy)],
                       [s / squeeze, c / squeeze, fy - (s * cx + c * cy) / squeeze]], np.float64)
    return frame_h, frame_w, matrix


def _gaussian(sigma: float, peak: bool) -> np.ndarray:
    radius = max(1, int(math.ceil(3 * sigma)))
    x = np.arange(-radius, radius + 1, dtype=np.float32)
    kernel = np.exp(-0.5 * (x / max(sigma, 1e-3)) ** 2).astype(np.float32)
    return kernel / (kernel.max() if peak else kernel.sum())


def _streaks(height: int, width: int, layer: dict, seed: int) -> np.ndarray:
    """One layer's streaks (HxW float32, not clipped)."""
    length = float(layer["length"])
    squeeze = int(min(4, max(1, length // 4)))
    frame_h, frame_w, matrix = _frame(height, width, float(layer["angle"]), length, squeeze)
    density = float(layer["density"]) * squeeze  # one frame pixel = squeeze image pixels
    seeds = np.float32(density) - fields.uniform(seed, (frame_h, frame_w))  # (0, density]: a seed
    cv2.threshold(seeds, 0.0, 0.0, cv2.THRESH_TOZERO, dst=seeds)
    stretched = cv2.boxFilter(seeds, -1, (1, max(1, round(length / squeeze))), normalize=False)
    sigma = max(float(layer["thickness"]), 0.1) / 2.355  # FWHM -> sigma
    across = _gaussian(sigma, peak=True) * np.float32(layer["brightness"] / density)
    streaks = cv2.sepFilter2D(stretched, -1, across, _gaussian(END_SOFTNESS / squeeze, peak=False))
    return cv2.warpAffine(streaks, matrix, (width, height),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)


def layer(height: int, width: int, params: dict) -> np.ndarray:
    """The rain layer R (HxW float32 in [0, 1])."""
    rain = np.zeros((height, width), np.float32)
    for index, one in enumerate(params["layers"]):
        rain += _streaks(height, width, one, (int(params["seed"]) + index) % 2 ** 31)
    return np.clip(rain, 0.0, 1.0, out=rain)


def apply_with_aux(image: np.ndarray, params: dict) -> tuple[np.ndarray, np.ndarray]:
    """(rainy image, rain layer R)."""
    rain = layer(image.shape[0], image.shape[1], params)
    out = cv2.merge([1.0 - rain] * 3)
    out *= image
    fields.add_to_channels(out, rain)  # J (1 - R) + R = 1 - (1 - J)(1 - R)
    return out, rain


def apply(image: np.ndarray, params: dict) -> np.ndarray:
    """The rainy image."""
    return apply_with_aux(image, params)[0]
