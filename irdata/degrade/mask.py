"""MAE-style masking: exactly ``round(ratio * cells)`` square ``cell`` x ``cell`` cells set to
``fill`` (edge cells may be partial); aux: the mask, HxW float32, 1 = masked."""

from __future__ import annotations

import cv2
import numpy as np

from . import ranges
from .seeding import draw_seed

NAME = "mask"
DEFAULTS = {"cell": 16, "ratio": 0.3, "fill": 0.0}
LEVELS = {"low": {"ratio": 0.15}, "mid": {"ratio": 0.3}, "high": {"ratio": 0.6}}


def sample(rng: np.random.Generator, config: dict | None = None) -> dict:
    """{"cell", "ratio", "fill", "seed"}."""
    cfg = ranges.resolve(DEFAULTS, config, NAME)
    params = {"cell": ranges.integer(rng, cfg["cell"]), "ratio": ranges.uniform(rng, cfg["ratio"]),
              "fill": ranges.uniform(rng, cfg["fill"]), "seed": draw_seed(rng)}
    if params["cell"] < 1 or not 0.0 <= params["ratio"] <= 1.0:
        raise ValueError(f"{NAME}: bad cell {params['cell']} or ratio {params['ratio']}")
    return params


def _grid(height: int, width: int, params: dict) -> np.ndarray:
    """rows x cols float32 grid, 1 = masked cell."""
    cell = int(params["cell"])
    rows, cols = -(-height // cell), -(-width // cell)
    count = int(round(params["ratio"] * rows * cols))
    order = np.random.default_rng(params["seed"]).permutation(rows * cols)
    grid = np.zeros(rows * cols, np.float32)
    grid[order[:count]] = 1.0
    return grid.reshape(rows, cols)


def cell_mask(height: int, width: int, params: dict) -> np.ndarray:
    """The HxW float32 mask (1 = masked)."""
    grid, cell = _grid(height, width, params), int(params["cell"])
    full = cv2.resize(grid, (grid.shape[1] * cell, grid.shape[0] * cell),
                      interpolation=cv2.INTER_NEAREST)
    return np.ascontiguousarray(full[:height, :width])


def _masked(image: np.ndarray, grid: np.ndarray, cell: int, fill: float) -> np.ndarray:
    """A copy of ``image`` with the grid's cells set to ``fill`` (through a block view)."""
    height, width = image.shape[:2]
    rows, cols = grid.shape
    exact = (rows * cell, cols * cell) == (height, width)
    out = image.copy() if exact else np.zeros((rows * cell, cols * cell, 3), np.float32)
    if not exact:
        out[:height, :width] = image
    blocks = out.reshape(rows, cell, cols, cell, 3)
    picked_rows, picked_cols = np.nonzero(grid)
    blocks[picked_rows, :, picked_cols] = np.float32(fill)
    return out if exact else np.ascontiguousarray(out[:height, :width])


def apply_with_aux(image: np.ndarray, params: dict) -> tuple[np.ndarray, np.ndarray]:
    """(masked image, mask)."""
    return apply(image, params), cell_mask(image.shape[0], image.shape[1], params)


def apply(image: np.ndarray, params: dict) -> np.ndarray:
    """The masked image."""
    grid = _grid(image.shape[0], image.shape[1], params)
    return _masked(image, grid, int(params["cell"]), params["fill"])
