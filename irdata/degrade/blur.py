"""Gaussian (``sigma`` px) or motion blur (an anti-aliased line of ``length`` px at ``angle``
degrees from horizontal, counter-clockwise, 0-180), one type per sample; reflect-101 borders."""

from __future__ import annotations

import cv2
import numpy as np

from . import ranges
from .kernels import line_kernel, sparse_filter

NAME = "blur"
TYPES = ("gaussian", "motion")
DEFAULTS = {"types": list(TYPES), "sigma": [0.5, 3.0], "length": [5, 21], "angle": [0.0, 180.0]}
LEVELS = {"low": {"sigma": 0.8, "length": 5}, "mid": {"sigma": 1.6, "length": 11},
          "high": {"sigma": 3.0, "length": 21}}


def sample(rng: np.random.Generator, config: dict | None = None) -> dict:
    """{"type": "gaussian", "sigma"} or {"type": "motion", "length", "angle"}."""
    cfg = ranges.resolve(DEFAULTS, config, NAME)
    kind = str(ranges.pick(rng, cfg["types"]))
    if kind == "gaussian":
        return {"type": kind, "sigma": ranges.uniform(rng, cfg["sigma"])}
    if kind == "motion":
        return {"type": kind, "length": ranges.integer(rng, cfg["length"]),
                "angle": ranges.uniform(rng, cfg["angle"])}
    raise ValueError(f"{NAME}: unknown type {kind!r}; known: {list(TYPES)}")


def apply(image: np.ndarray, params: dict) -> np.ndarray:
    """The blurred image."""
    if params["type"] == "gaussian":
        return cv2.GaussianBlur(image, (0, 0), float(params["sigma"]),
                                borderType=cv2.BORDER_REFLECT_101)
    kernel = line_kernel(float(params["length"]), float(params["angle"]))
    return sparse_filter(image, kernel)
