"""Process settings for workers that handle whole photos (`tune()`, once per process).

OpenCV: one internal thread. Stages already run `inspect.threads` images at once
in a task and one task per core; OpenCV's own pool on top oversubscribed the
cores (measured: ~8% slower fetch stage on 2 cores).

glibc malloc:

Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which also pins
glibc's mmap threshold at 128 KiB: every decoded image, PNG buffer and tar
member then gets fresh pages from the kernel and returns them on free. Measured
here on the fetch and patch stages: 1.4x and 7x slower. `tune_malloc()` restores
reuse: blocks under 32 MiB come from the heap, and up to 256 MiB of freed heap
is kept before trimming (a worker's peak is still bounded by the largest photo
in flight). It is called once per worker process, on any cluster (also one
started by someone else); elsewhere than glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 << 20  # glibc's largest allowed value on 64-bit
TRIM_THRESHOLD = 256 << 20
_done = False


def tune() -> None:
    """Both settings, once per process."""
    global _done
    if _done:
        return
    import cv2

    cv2.setNumThreads(1)
    _done = True
    tune_malloc()


def tune_malloc() -> bool:
    """Set the malloc thresholds; True if glibc accepted them."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
