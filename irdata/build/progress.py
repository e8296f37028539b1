"""Progress lines while a stage runs and the summary table after the build."""

from __future__ import annotations

import sys
import time
from collections import Counter


class Progress:
    """Counts per status across finished partitions, shown as one updating line."""

    def __init__(self, stage: str, total: int, already: int = 0, stream=None, quiet=False):
        self.stage, self.total, self.done = stage, total, already
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.status: Counter = Counter()
        self.items = 0
        self.started = time.monotonic()
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def add(self, stats: dict, fresh: bool = True) -> None:
        self.status.update(stats.get("status", {}))
        if fresh:
            self.items += stats.get("items", 0)
            self.done += 1
            self._render()

    def line(self) -> str:
        counts = " ".join(f"{k}={v}" for k, v in sorted(self.status.items()))
        elapsed = max(time.monotonic() - self.started, 1e-9)
        return (f"{self.stage} [{self.done}/{self.total} partitions] {counts} "
                f"| {self.items / elapsed:.1f} items/s")

    def _render(self) -> None:
        if self.quiet:
            return
        end = "" if self.tty else "\n"
        prefix = "\r\033[K" if self.tty else ""
        print(f"{prefix}{self.line()}", end=end, file=self.stream, flush=True)

    def finish(self) -> None:
        if self.tty and not self.quiet:
            print(file=self.stream)


def summary_table(stage: str, all_stats: list[dict], seconds: float) -> str:
    """Counts per status and reason over every partition of a stage."""
    status, reasons = Counter(), Counter()
    items = 0
    for stats in all_stats:
        status.update(stats.get("status", {}))
        reasons.update(stats.get("reasons", {}))
        items += stats.get("items", 0)
    rows = [("items", items)] + sorted(status.items()) + sorted(
        (f"  {key}", value) for key, value in reasons.items())
    width = max(len(label) for label, _ in rows)
    lines = [f"{stage}: {len(all_stats)} partitions, {seconds:.1f} s"]
    lines += [f"  {label.ljust(width)}  {value:>10}" for label, value in rows]
    return "\n".join(lines)
