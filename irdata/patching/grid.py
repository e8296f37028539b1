"""The patch grid: non-overlapping size x size cells, centred on the image.

The leftover columns and rows are split between both edges (floor on the left / top),
so no side of a photo is always the one lost, the grid is the same under flips (up to
one pixel when the leftover is odd), and the corners stay integers.
"""

from __future__ import annotations

PATCH_SIZE = 512


def axis_starts(length: int, size: int = PATCH_SIZE) -> list[int]:
    """Start offsets of the cells along one axis, the leftover split floor-first."""
    count = length // size
    offset = (length - count * size) // 2
    return [offset + i * size for i in range(count)]


def grid(width: int, height: int, size: int = PATCH_SIZE) -> list[tuple[int, int]]:
    """(y, x) top-left corners of every cell fully inside the image, row-major; [] if none."""
    if size <= 0:
        raise ValueError(f"cell size must be positive, got {size}")
    xs = axis_starts(width, size)
    return [(y, x) for y in axis_starts(height, size) for x in xs]


def cell_overlaps(box, x: int, y: int, size: int) -> bool:
    """Whether the cell at (x, y) of side `size` shares pixels with `box` (x0, y0, x1, y1)."""
    x0, y0, x1, y1 = box
    return x < x1 and x0 < x + size and y < y1 and y0 < y + size
