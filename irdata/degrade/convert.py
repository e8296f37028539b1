"""uint8 <-> float32 HxWx3 in [0, 1] at the library's boundaries. Back to 8 bits: clip, x 255
in float32, round half to even (``np.rint``), so ``to_uint8(to_float(x)) == x``."""

from __future__ import annotations

import numpy as np

_SCALE = np.float32(255.0)


def to_float(image: np.ndarray) -> np.ndarray:
    """uint8 -> float32 in [0, 1] (``x / 255``)."""
    if image.dtype != np.uint8:
        raise ValueError(f"to_float expects uint8, got {image.dtype}")
    out = image.astype(np.float32)
    return np.divide(out, _SCALE, out=out)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """float in [0, 1] -> uint8: clip, x 255, round half to even."""
    scaled = np.multiply(image, _SCALE, dtype=np.float32)  # x 255 is monotonic: = clip, then x 255
    np.clip(scaled, 0.0, _SCALE, out=scaled)
    return np.rint(scaled, out=scaled).astype(np.uint8)


def check_image(image: np.ndarray) -> np.ndarray:
    """The image as float32 HxWx3, or ValueError."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 image, got shape {image.shape}")
    if image.dtype != np.float32:
        raise ValueError(f"expected float32 in [0, 1], got {image.dtype} (use to_float)")
    return image
