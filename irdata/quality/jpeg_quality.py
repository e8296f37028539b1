"""JPEG quality estimated from the quantisation tables alone (no decode).

libjpeg-based encoders scale the IJG tables (`scaled_table`); the estimate is the
quality whose tables are closest (mean absolute difference) to the file's, and that
distance tells tables that are not IJG-scaled (some cameras) apart.
"""

from __future__ import annotations

import numpy as np

# IJG standard tables (ITU-T T.81 Annex K), natural row-major order.
LUMINANCE = np.array([
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99], np.int64)
CHROMINANCE = np.array([
    17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99,
    24, 26, 56, 99, 99, 99, 99, 99, 47, 66, 99, 99, 99, 99, 99, 99] + [99] * 32, np.int64)


def scaled_table(base: np.ndarray, quality: int) -> np.ndarray:
    """The IJG table for `quality` (1-100), baseline-clipped to 1..255."""
    quality = min(max(int(quality), 1), 100)
    scale = 5000 // quality if quality < 50 else 200 - 2 * quality
    return np.clip((base * scale + 50) // 100, 1, 255)


_CANDIDATES = {q: (scaled_table(LUMINANCE, q), scaled_table(CHROMINANCE, q))
               for q in range(1, 101)}


def estimate_quality(tables: dict) -> tuple[int | None, float]:
    """(quality 1-100, mean absolute table difference) from Pillow's
    `Image.quantization` ({0: luma, 1: chroma, ...}); (None, inf) without tables."""
    if not tables or 0 not in tables or len(tables[0]) != 64:
        return None, float("inf")
    luma = np.asarray(list(tables[0]), np.int64)
    chroma = np.asarray(list(tables[1]), np.int64) if len(tables.get(1, ())) == 64 else None
    best, best_error = None, float("inf")
    for quality, (luma_ref, chroma_ref) in _CANDIDATES.items():
        error = np.abs(luma - luma_ref).mean()
        if chroma is not None:
            error = (error + np.abs(chroma - chroma_ref).mean()) / 2
        if error < best_error:
            best, best_error = quality, float(error)
    return best, best_error
