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

import cv2
import numpy as np

from irdata.quality.working import packed_rgb

BLOCK = 8
PALETTE = 8
BITS = 5


def flat_share(rgb: np.ndarray) -> float:
    """Share of whole 8x8 blocks that hold a single RGB colour."""
    packed = packed_rgb(rgb)
    rows, cols = packed.shape[0] // BLOCK, packed.shape[1] // BLOCK
    if rows == 0 or cols == 0:
        return 0.0
    blocks = packed[:rows * BLOCK, :cols * BLOCK].reshape(rows, BLOCK, cols, BLOCK)
    return float((blocks == blocks[:, :1, :, :1]).all(axis=(1, 3)).mean())


def palette_share(rgb: np.ndarray) -> float:
    """Share of pixels in the PALETTE most frequent 5-bit-per-channel colours."""
    bins = 1 << BITS  # a histogram bin of width 2^(8 - BITS) is the top BITS bits
    counts = cv2.calcHist([np.ascontiguousarray(rgb)], [0, 1, 2], None, [bins] * 3,
                          [0, 256] * 3).ravel()
    top = np.partition(counts, counts.size - PALETTE)[-PALETTE:]
    return float(top.sum()) / (rgb.shape[0] * rgb.shape[1])
