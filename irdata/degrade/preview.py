"""A labelled contact sheet: a row per kind (per type for ``random_noise`` and ``blur``),
columns clean / low / mid / high (``LEVELS``), applied at full resolution to a centre crop
so the sheet shows pixels as the training patches will see them."""

from __future__ import annotations

import cv2
import numpy as np

from . import registry
from .convert import to_float, to_uint8
from .seeding import rng_for

LEVEL_NAMES = ("low", "mid", "high")
LABEL_HEIGHT = 22


def _rows() -> list[tuple[str, str, dict]]:
    """(label, kind, extra config) per sheet row."""
    rows = []
    for name, kind in registry.KINDS.items():
        types = kind.defaults.get("types")
        if types:
            rows += [(f"{name}/{t}", name, {"types": [t]}) for t in types]
        else:
            rows.append((name, name, {}))
    return rows


def _crop(image: np.ndarray, tile: int) -> np.ndarray:
    """A centre ``tile`` x ``tile`` crop (the image is upscaled first if smaller)."""
    height, width = image.shape[:2]
    if min(height, width) < tile:
        scale = tile / min(height, width)
        size = (max(tile, round(width * scale)), max(tile, round(height * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_CUBIC)
        height, width = image.shape[:2]
    top, left = (height - tile) // 2, (width - tile) // 2
    return np.ascontiguousarray(image[top:top + tile, left:left + tile])


def _label(tile: np.ndarray, text: str) -> np.ndarray:
    """The uint8 tile with a caption strip on top (putText needs 8-bit images)."""
    strip = np.full((LABEL_HEIGHT, tile.shape[1], 3), 255, np.uint8)
    cv2.putText(strip, text, (4, LABEL_HEIGHT - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.45,
                (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([strip, tile])


def _caption(params: dict) -> str:
    """A short caption: the scalar params, rounded."""
    parts = []
    for key, value in params.items():
        if key == "seed":
            continue
        if isinstance(value, float):
            value = f"{value:.3g}"
        if isinstance(value, list):
            value = f"{len(value)}x"
        parts.append(f"{key}={value}")
    return " ".join(parts)


def preview_sheet(image_uint8: np.ndarray, seed: int = 0, tile: int = 384) -> np.ndarray:
    """uint8 RGB contact sheet: one row per kind (or type), columns clean / low / mid / high."""
    clean = to_float(_crop(np.asarray(image_uint8, np.uint8), tile))
    sheet_rows = []
    for label, name, extra in _rows():
        kind = registry.get(name)
        cells = [_label(to_uint8(clean), f"{label}: clean")]
        for level in LEVEL_NAMES:
            config = {**kind.levels.get(level, {}), **extra}
            params = kind.sample(rng_for(seed, label, LEVEL_NAMES.index(level)), config)
            out = registry.apply(name, clean, params)
            cells.append(_label(to_uint8(out), f"{level}: {_caption(params)}"[:60]))
        sheet_rows.append(np.hstack(cells))
    return np.vstack(sheet_rows)
