"""Lossless patch PNG: ISA-L (png_writer.py, the default) or OpenCV's libpng."""

from __future__ import annotations

import cv2
import numpy as np

from irdata.imaging import png_writer

PNG_STRATEGIES = {"default": cv2.IMWRITE_PNG_STRATEGY_DEFAULT,
                  "filtered": cv2.IMWRITE_PNG_STRATEGY_FILTERED,
                  "huffman": cv2.IMWRITE_PNG_STRATEGY_HUFFMAN_ONLY,
                  "rle": cv2.IMWRITE_PNG_STRATEGY_RLE,
                  "fixed": cv2.IMWRITE_PNG_STRATEGY_FIXED}
# Row filters: one fixed filter, or libpng's per-row choice ("adaptive": all five,
# "fast": none/sub/up), which costs a trial filtering of every row per candidate.
PNG_FILTERS = {"adaptive": cv2.IMWRITE_PNG_ALL_FILTERS, "fast": cv2.IMWRITE_PNG_FAST_FILTERS,
               "none": cv2.IMWRITE_PNG_FILTER_NONE, "sub": cv2.IMWRITE_PNG_FILTER_SUB,
               "up": cv2.IMWRITE_PNG_FILTER_UP, "avg": cv2.IMWRITE_PNG_FILTER_AVG,
               "paeth": cv2.IMWRITE_PNG_FILTER_PAETH}


ENCODERS = ("isal", "opencv")


def encode_png(rgb: np.ndarray, compression: int = 1, strategy: str = "rle",
               filter: str = "up", encoder: str = "isal") -> bytes:
    """Lossless PNG bytes of an HxWx3 uint8 RGB array (a strided view is fine):
    ISA-L at level `compression` (0-3), or OpenCV's zlib level and `strategy`."""
    if encoder == "isal":
        return png_writer.write_png(rgb, compression, filter)
    if encoder != "opencv":
        raise ValueError(f"unknown PNG encoder {encoder!r} (known: {', '.join(ENCODERS)})")
    params = [cv2.IMWRITE_PNG_COMPRESSION, compression,
              cv2.IMWRITE_PNG_STRATEGY, PNG_STRATEGIES[strategy],
              cv2.IMWRITE_PNG_FILTER, PNG_FILTERS[filter]]
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), params)
    if not ok:
        raise ValueError("PNG encode failed")
    return buf.tobytes()


def encode_patch_png(rgb: np.ndarray, patch: dict) -> bytes:
    """`encode_png` with the `patch` settings' png_* options: how every stored patch
    and degraded variant is written."""
    return encode_png(rgb, patch["png_compression"], patch["png_strategy"],
                      patch["png_filter"], patch["png_encoder"])
