"""Lossless patch encoding (PNG through OpenCV; settings chosen in benchmarks/png_settings.py)."""

from __future__ import annotations

import cv2
import numpy as np

PNG_STRATEGIES = {"default": cv2.IMWRITE_PNG_STRATEGY_DEFAULT,
                  "filtered": cv2.IMWRITE_PNG_STRATEGY_FILTERED,
                  "huffman": cv2.IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY,
                  "rle": cv2.IMWRITE_PNG_STRATEGY_RLE,
                  "fixed": cv2.IMWRITE_PNG_STRATEGY_FIXED}


def encode_png(rgb: np.ndarray, compression: int = 1, strategy: str = "rle") -> bytes:
    """Lossless PNG bytes of an HxWx3 uint8 RGB array."""
    params = [cv2.IMWRITE_PNG_COMPRESSION, compression,
              cv2.IMWRITE_PNG_STRATEGY, PNG_STRATEGIES[strategy]]
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise ValueError("PNG encode failed")
    return buf.tobytes()
