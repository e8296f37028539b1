"""Line kernels and a filter that keeps OpenCV on its direct (sparse) path.

``cv2.filter2D`` skips zero taps when it filters directly, but switches to a slow DFT
for float kernels of 130 taps or more. ``sparse_filter`` cuts a kernel into bands whose
bounding boxes stay under that, filters each directly and sums: cost follows the taps.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

DIRECT_TAPS = 120  # below OpenCV's DFT switch (130) for float32


def line_kernel(length: float, angle: float) -> np.ndarray:
    """Uniform motion over ``length`` px at ``angle`` degrees (from horizontal, counter-clockwise),
    odd square, sum 1: points every 1/8 px splatted bilinearly, taps under 5% of peak dropped."""
    size = (int(math.ceil(length)) + 2) | 1
    centre = size // 2
    steps = max(2, int(math.ceil(length * 8)))
    along = (np.arange(steps) + 0.5) / steps * length - length / 2.0
    xs = centre + along * math.cos(math.radians(angle))
    ys = centre - along * math.sin(math.radians(angle))
    x0, y0 = np.floor(xs).astype(int), np.floor(ys).astype(int)
    fx, fy = xs - x0, ys - y0
    kernel = np.zeros((size + 1, size + 1), np.float64)
    for dy, dx, weight in ((0, 0, (1 - fx) * (1 - fy)), (0, 1, fx * (1 - fy)),
                           (1, 0, (1 - fx) * fy), (1, 1, fx * fy)):
        np.add.at(kernel, (y0 + dy, x0 + dx), weight)
    kernel = kernel[:size, :size]
    kernel[kernel < 0.05 * kernel.max()] = 0.0
    return (kernel / kernel.sum()).astype(np.float32)


def _box(kernel: np.ndarray) -> tuple[int, int, int, int] | None:
    """(top, bottom, left, right) of the non-zero taps, or None."""
    rows, cols = np.nonzero(kernel)
    if rows.size == 0:
        return None
    return int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1


def _area(kernel: np.ndarray) -> int:
    box = _box(kernel)
    return 0 if box is None else (box[1] - box[0]) * (box[3] - box[2])


def _bands(kernel: np.ndarray) -> list[tuple[int, int]]:
    """Row ranges [r0, r1) whose non-zero bounding boxes stay under DIRECT_TAPS."""
    bands, start = [], 0
    for row in range(2, kernel.shape[0] + 1):
        if _area(kernel[start:row]) >= DIRECT_TAPS:
            bands.append((start, row - 1))
            start = row - 1
    bands.append((start, kernel.shape[0]))
    return bands


def _pieces(kernel: np.ndarray) -> list[tuple[int, int, np.ndarray]]:
    """(top, left, piece) for every band: its non-zero bounding box and offset."""
    pieces = []
    for r0, r1 in _bands(kernel):
        box = _box(kernel[r0:r1])
        if box is not None:
            top, bottom, left, right = r0 + box[0], r0 + box[1], box[2], box[3]
            pieces.append((top, left, np.ascontiguousarray(kernel[top:bottom, left:right])))
    return pieces


def _trim(kernel: np.ndarray) -> np.ndarray:
    """The smallest centred odd-sized crop holding every non-zero tap."""
    box = _box(kernel)
    if box is None:
        return kernel
    cy, cx = kernel.shape[0] // 2, kernel.shape[1] // 2
    ry = max(cy - box[0], box[1] - 1 - cy)
    rx = max(cx - box[2], box[3] - 1 - cx)
    return np.ascontiguousarray(kernel[cy - ry:cy + ry + 1, cx - rx:cx + rx + 1])


def sparse_filter(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """``cv2.filter2D`` with an odd-sized kernel (centre anchor, reflect-101), never via a DFT."""
    kernel = _trim(kernel)
    if kernel.size < DIRECT_TAPS:
        return cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT_101)
    kh, kw = kernel.shape
    height, width = image.shape[:2]
    pieces = _pieces(kernel)
    tall = max(piece.shape[0] for _, _, piece in pieces)
    wide = max(piece.shape[1] for _, _, piece in pieces)
    # every band filters a window of the same size into one reused buffer
    padded = cv2.copyMakeBorder(image, kh // 2, kh // 2 + tall, kw // 2, kw // 2 + wide,
                                cv2.BORDER_REFLECT_101)
    buffer = np.empty((height + tall - 1, width + wide - 1) + image.shape[2:], np.float32)
    out = np.zeros_like(image)
    for top, left, piece in pieces:
        window = padded[top:top + height + tall - 1, left:left + width + wide - 1]
        cv2.filter2D(window, -1, piece, dst=buffer, anchor=(0, 0))
        out += buffer[:height, :width]
    return out
