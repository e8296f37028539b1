"""Non-Gaussian noise, one type per sample; ``sigma`` on the 0-255 scale unless noted.

- ``shot``: std ``sigma * sqrt(x)``, the Gaussian approximation of Poisson (far faster).
- ``speckle``: ``x * (1 + n)``, ``n ~ N(0, sigma^2)`` (sigma relative).
- ``salt_pepper``: a share ``amount`` of pixels set to 0 or 1 (half each, all channels).
- ``correlated``: Gaussian noise on a grid ``scale`` x coarser, cubic-upsampled, std ``sigma``.
"""

from __future__ import annotations

import cv2
import numpy as np

from . import fields, ranges
from .seeding import draw_seed

NAME = "random_noise"
TYPES = ("shot", "speckle", "salt_pepper", "correlated")
DEFAULTS = {
    "types": list(TYPES),
    "shot_sigma": [5.0, 40.0],
    "speckle_sigma": [0.05, 0.3],
    "salt_pepper_amount": [0.005, 0.05],
    "correlated_sigma": [5.0, 30.0],
    "correlated_scale": [1.5, 3.0],
}
LEVELS = {
    "low": {"shot_sigma": 8, "speckle_sigma": 0.06, "salt_pepper_amount": 0.005,
            "correlated_sigma": 8, "correlated_scale": 1.5},
    "mid": {"shot_sigma": 20, "speckle_sigma": 0.15, "salt_pepper_amount": 0.02,
            "correlated_sigma": 15, "correlated_scale": 2.0},
    "high": {"shot_sigma": 40, "speckle_sigma": 0.3, "salt_pepper_amount": 0.05,
             "correlated_sigma": 30, "correlated_scale": 3.0},
}


def sample(rng: np.random.Generator, config: dict | None = None) -> dict:
    """{"type", "seed", and "sigma" | "amount" (+ "scale" for correlated)}."""
    cfg = ranges.resolve(DEFAULTS, config, NAME)
    kind = str(ranges.pick(rng, cfg["types"]))
    if kind not in TYPES:
        raise ValueError(f"{NAME}: unknown type {kind!r}; known: {list(TYPES)}")
    params: dict = {"type": kind}
    if kind == "salt_pepper":
        params["amount"] = ranges.uniform(rng, cfg["salt_pepper_amount"])
    else:
        params["sigma"] = ranges.uniform(rng, cfg[f"{kind}_sigma"])
    if kind == "correlated":
        params["scale"] = ranges.uniform(rng, cfg["correlated_scale"])
    params["seed"] = draw_seed(rng)
    return params


def _shot(image: np.ndarray, params: dict) -> np.ndarray:
    noise = fields.normal(params["seed"], image.shape, params["sigma"] / 255.0)
    for channel in range(image.shape[2]):  # per channel: no 3-channel temporary
        view = noise[..., channel]
        view *= np.sqrt(image[..., channel])
    return noise


def _speckle(image: np.ndarray, params: dict) -> np.ndarray:
    noise = fields.normal(params["seed"], image.shape, params["sigma"])
    noise *= image
    return noise


def _correlated(image: np.ndarray, params: dict) -> np.ndarray:
    height, width = image.shape[:2]
    rows = max(2, round(height / params["scale"]))
    cols = max(2, round(width / params["scale"]))
    coarse = fields.normal(params["seed"], (rows, cols, 3))
    noise = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    _, std = cv2.meanStdDev(noise.reshape(height, -1))  # np.std would allocate two copies
    noise *= np.float32(params["sigma"] / 255.0 / max(float(std[0, 0]), 1e-6))
    return noise


def _salt_pepper(image: np.ndarray, params: dict) -> np.ndarray:
    """Pixels with draw < amount/2 -> 0, amount/2 <= draw < amount -> 1."""
    draw = fields.uniform(params["seed"], image.shape[:2])
    amount = float(params["amount"])
    _, keep = cv2.threshold(draw, amount, 1.0, cv2.THRESH_BINARY)  # draw > amount (ties: p ~ 0)
    _, low = cv2.threshold(draw, amount / 2, 1.0, cv2.THRESH_BINARY)
    out = cv2.merge([keep] * 3)
    out *= image
    return fields.add_to_channels(out, low - keep)  # salt: amount/2 <= draw <= amount


_ADDITIVE = {"shot": _shot, "speckle": _speckle, "correlated": _correlated}


def apply(image: np.ndarray, params: dict) -> np.ndarray:
    """The image with this sample's noise, clipped to [0, 1]."""
    if params["type"] == "salt_pepper":
        return _salt_pepper(image, params)
    noisy = _ADDITIVE[params["type"]](image, params)
    noisy += image
    return np.clip(noisy, 0.0, 1.0, out=noisy)
