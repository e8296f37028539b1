"""Process settings for workers that handle whole photos (`tune()`, once per process).

OpenCV runs on one thread: tasks and `inspect.threads` already fill the cores. Dask's
nanny sets MALLOC_TRIM_THRESHOLD_, which also pins glibc's mmap threshold low, so every
image buffer got fresh kernel pages; `reuse_freed_memory` restores heap reuse. Run on
every worker process, on any cluster; a no-op elsewhere than glibc.
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
    """Keep up to ``megabytes`` of freed heap and serve blocks below min(megabytes, 32 MB)
    from it; True if glibc took both settings (False elsewhere: nothing changes)."""
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
