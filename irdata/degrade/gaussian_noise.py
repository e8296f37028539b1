"""Additive white Gaussian noise, sigma on the 0-255 scale, independent per channel.
PromptIR / DyNet protocol: ``{"sigma": 25}``, or ``{"sigma": {"choice": [15, 25, 50]}}``."""

from __future__ import annotations

import numpy as np

from . import fields, ranges
from .seeding import draw_seed

NAME = "gaussian_noise"
DEFAULTS = {"sigma": [5.0, 50.0]}
LEVELS = {"low": {"sigma": 15}, "mid": {"sigma": 25}, "high": {"sigma": 50}}


def sample(rng: np.random.Generator, config: dict | None = None) -> dict:
    """{"sigma": 0-255 scale, "seed": noise seed}."""
    cfg = ranges.resolve(DEFAULTS, config, NAME)
    return {"sigma": ranges.uniform(rng, cfg["sigma"]), "seed": draw_seed(rng)}


def apply(image: np.ndarray, params: dict) -> np.ndarray:
    """image + N(0, (sigma/255)^2), clipped to [0, 1]."""
    noisy = fields.normal(params["seed"], image.shape, params["sigma"] / 255.0)
    noisy += image
    return np.clip(noisy, 0.0, 1.0, out=noisy)
