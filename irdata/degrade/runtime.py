"""Process tuning for loops that degrade many patches (opt-in, glibc only).

With glibc's defaults a freed 3 MB image is often handed back to the kernel
and the next one faults its pages in again: on the measured machine that is
2,000 page faults (~7 ms) per haze call, more than the arithmetic. Raising the
trim and mmap thresholds keeps freed memory for reuse. Call this once per
worker process (the offline stage, a training loader worker); it changes
allocation for the whole process, so the library never calls it by itself.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3


def reuse_freed_memory(megabytes: int = 32) -> bool:
    """Keep up to ``megabytes`` of freed heap and serve blocks below it from the
    heap (glibc caps the mmap threshold at 32 MB); True if both settings took."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    size = int(megabytes) * 1024 * 1024
    return bool(mallopt(M_TRIM_THRESHOLD, size)) and bool(mallopt(M_MMAP_THRESHOLD, size))
