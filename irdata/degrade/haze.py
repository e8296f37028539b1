"""Atmospheric scattering: I = J t + A (1 - t), t = exp(-beta d), ``A`` a grey airlight.
Depth proxy d = gradient * ramp + (1 - gradient) * field in [0, 1]: the ramp runs from 1 at
the top to 0 at the bottom (far sky, near ground), the field is smooth (``cell`` px)."""

from __future__ import annotations

import cv2
import numpy as np

from . import fields, ranges
from .seeding import draw_seed

NAME = "haze"
DEFAULTS = {"A": [0.7, 1.0], "beta": [0.5, 2.5], "gradient": [0.3, 0.8], "cell": [64.0, 256.0]}
LEVELS = {"low": {"A": 0.85, "beta": 0.5, "gradient": 0.6},
          "mid": {"A": 0.85, "beta": 1.2, "gradient": 0.6},
          "high": {"A": 0.85, "beta": 2.5, "gradient": 0.6}}


def sample(rng: np.random.Generator, config: dict | None = None) -> dict:
    """{"A", "beta", "gradient", "cell", "seed"}."""
    cfg = ranges.resolve(DEFAULTS, config, NAME)
    return {"A": ranges.uniform(rng, cfg["A"]), "beta": ranges.uniform(rng, cfg["beta"]),
            "gradient": ranges.uniform(rng, cfg["gradient"]),
            "cell": ranges.uniform(rng, cfg["cell"]), "seed": draw_seed(rng)}


def depth(height: int, width: int, params: dict) -> np.ndarray:
    """The depth proxy d (HxW float32 in [0, 1])."""
    field = fields.smooth(params["seed"], height, width, params["cell"])
    ramp = np.linspace(1.0, 0.0, height, dtype=np.float32)[:, None]
    weight = np.float32(params["gradient"])
    field *= 1 - weight
    field += weight * ramp
    return field


def transmission(height: int, width: int, params: dict) -> np.ndarray:
    """t = exp(-beta d) (HxW float32 in (0, 1])."""
    d = depth(height, width, params)
    d *= -np.float32(params["beta"])
    return cv2.exp(d)


def apply_with_aux(image: np.ndarray, params: dict) -> tuple[np.ndarray, np.ndarray]:
    """(hazy image, transmission map t)."""
    t = transmission(image.shape[0], image.shape[1], params)
    airlight = np.float32(params["A"])
    hazy = cv2.merge([t] * 3)
    hazy *= image
    veil = np.subtract(1.0, t, dtype=np.float32)
    veil *= airlight
    fields.add_to_channels(hazy, veil)  # a convex combination of J and A: stays in [0, 1]
    return hazy, t


def apply(image: np.ndarray, params: dict) -> np.ndarray:
    """The hazy image: (J - A) t + A."""
    return apply_with_aux(image, params)[0]
