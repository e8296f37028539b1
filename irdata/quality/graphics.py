"""Graphics and documents: flat regions of exactly one colour, and few colours.

- flat_share: share of 8x8 blocks of the working image whose pixels are all the
  same RGB colour. Graphics (documents, charts, logos, screenshots, flat
  illustrations, products on white) are made of such blocks; in photos they
  occur only in clipped or letterboxed areas, because sensor noise and texture
  break exact equality.
- palette_share: share of pixels covered by the PALETTE most frequent colours,
  each channel quantised to 5 bits (JPEG ringing stays in its bin).

A source is graphics when both are high (see gates.py): a photo with a black
letterbox has flat blocks but many colours; a dark low-key portrait has a
dominant colour but no exactly flat blocks.
"""

from __future__ import annotations

import numpy as np

from irdata.quality.working import block_tiles, packed_rgb

BLOCK = 8
PALETTE = 8
BITS = 5


def flat_share(rgb: np.ndarray) -> float:
    """Share of whole 8x8 blocks that hold a single RGB colour."""
    tiles = block_tiles(packed_rgb(rgb), BLOCK)
    if tiles.size == 0:
        return 0.0
    return float((tiles.min(axis=2) == tiles.max(axis=2)).mean())


def palette_share(rgb: np.ndarray) -> float:
    """Share of pixels in the PALETTE most frequent 5-bit-per-channel colours."""
    q = np.right_shift(rgb, 8 - BITS)
    index = q[..., 0].astype(np.int32)
    index <<= 2 * BITS
    index += q[..., 1].astype(np.int32) << BITS
    index += q[..., 2]
    counts = np.bincount(index.ravel(), minlength=1 << (3 * BITS))
    top = np.partition(counts, counts.size - PALETTE)[-PALETTE:]
    return float(top.sum() / index.size)
