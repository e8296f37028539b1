"""Graphics and documents: regions of exactly one colour, and few colours.

flat_share counts BLOCK x BLOCK blocks of one exact RGB colour (noise and texture break
exact equality in photos); palette_share the pixels in the PALETTE commonest colours
at BITS bits per channel (JPEG ringing stays in its bin). The gate needs both high: a
letterboxed photo has flat blocks but many colours, a low-key portrait the reverse.
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
