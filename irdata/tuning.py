"""Process settings for workers that handle whole photos (`tune()`, once per process).

OpenCV: one internal thread. Stages already run `inspect.threads` images at once
in a task and one task per core; OpenCV's own pool on top oversubscribed the
cores (measured: ~8% slower fetch stage on 2 cores).

glibc malloc:

Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536, which also pins
glibc's mmap threshold at 128 KiB: every decoded image, PNG buffer and tar
member then gets fresh pages from the kernel and returns them on free. Measured
here on the fetch and patch stages: 1.4x and 7x slower. `reuse_freed_memory` restores
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
MMAP_CAP_MB = 32  # glibc's largest mmap threshold on 64-bit
WORKER_TRIM_MB = 256
_done = False


def tune() -> None:
    """OpenCV on one thread and malloc tuned, once per process."""
    global _done
    if _done:
        return
    import cv2

    cv2.setNumThreads(1)
    _done = True
    reuse_freed_memory(WORKER_TRIM_MB)


def reuse_freed_memory(megabytes: int = 32) -> bool:
    """Keep up to ``megabytes`` of freed heap before trimming, and serve blocks
    below min(megabytes, 32 MB) from the heap; True if glibc took both settings
    (False elsewhere: nothing changes)."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    mmap = min(int(megabytes), MMAP_CAP_MB) * 1024 * 1024
    return bool(mallopt(M_TRIM_THRESHOLD, int(megabytes) * 1024 * 1024)) and bool(
        mallopt(M_MMAP_THRESHOLD, mmap))
