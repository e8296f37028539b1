"""Process tuning for loops that degrade many patches (opt-in, glibc only).

With glibc's defaults a freed 3 MB image is often handed back to the kernel
and the next one faults its pages in again: on the measured machine that is
2,000 page faults (~7 ms) per haze call, more than the arithmetic. Raising the
trim and mmap thresholds keeps freed memory for reuse. Call this once per
worker process (the offline stage, a training loader worker); it changes
allocation for the whole process, so the library never calls it by itself.
The implementation is shared with the build's workers (irdata.tuning).
"""

from __future__ import annotations

from irdata.tuning import reuse_freed_memory

__all__ = ["reuse_freed_memory"]
