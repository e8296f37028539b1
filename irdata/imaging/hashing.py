"""64-bit perceptual hashes computed from a small thumbnail, never a full-size resize."""

from __future__ import annotations

import imagehash
import numpy as np
from PIL import Image

THUMB_SIDE = 256


def thumbnail(pixels: np.ndarray, side: int = THUMB_SIDE) -> Image.Image:
    """A side x side box-filtered thumbnail of an RGB array (aspect not kept)."""
    image = Image.fromarray(pixels)
    return image.resize((side, side), Image.Resampling.BOX, reducing_gap=2.0)


def phash(thumb: Image.Image) -> str:
    """64-bit DCT pHash as 16 hex chars."""
    return str(imagehash.phash(thumb, hash_size=8))


def dhash(thumb: Image.Image) -> str:
    """64-bit gradient hash as 16 hex chars: an independent second opinion for dedupe."""
    return str(imagehash.dhash(thumb, hash_size=8))
