"""Training log: one JSON object per log step in RUN/log.jsonl and a line on stdout. Fields:
step, phase, crop, batch, loss (mean since the last line, over ranks), lr, samples_per_s (all
ranks), data_wait (share of the interval waiting for batches, rank 0), variants (L/S counts),
tasks (samples per task), seconds (since the start), world."""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter


class TrainLog:
    """Accumulates per-step figures and writes a line every `every` steps (rank 0)."""

    def __init__(self, run: str, every: int, main: bool, append: bool):
        self.every, self.main = every, main
        self.path = os.path.join(run, "log.jsonl")
        if main:
            os.makedirs(run, exist_ok=True)
            if not append and os.path.exists(self.path):
                os.remove(self.path)
        self.started = time.monotonic()
        self._reset()

    def _reset(self) -> None:
        self.losses: list[float] = []
        self.variants: Counter = Counter()
        self.tasks: Counter = Counter()
        self.samples = 0
        self.interval_start = time.monotonic()

    def add(self, loss: float, variant: str | None, tasks: list[str]) -> None:
        self.losses.append(loss)
        self.variants[variant or "-"] += 1
        self.tasks.update(tasks)
        self.samples += len(tasks)

    def due(self, step: int, last: bool) -> bool:
        return last or (step + 1) % self.every == 0

    def write(self, step: int, segment, lr: float, loss: float, wait: float,
              world: int) -> dict:
        """Write one record; `loss` is already averaged over ranks."""
        elapsed = max(time.monotonic() - self.interval_start, 1e-9)
        record = {"step": step + 1, "phase": segment.phase, "crop": segment.crop,
                  "batch": segment.batch, "loss": loss, "lr": lr,
                  "samples_per_s": round(self.samples * world / elapsed, 2),
                  "data_wait": round(min(1.0, wait / elapsed), 4),
                  "variants": dict(self.variants), "tasks": dict(sorted(self.tasks.items())),
                  "seconds": round(time.monotonic() - self.started, 2), "world": world}
        if self.main:
            with open(self.path, "a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")
            print(f"step {record['step']:>7}  loss {loss:.5f}  lr {lr:.2e}  "
                  f"crop {segment.crop} x{segment.batch}  "
                  f"{record['samples_per_s']:.1f} samples/s  "
                  f"data wait {100 * record['data_wait']:.0f}%", file=sys.stdout, flush=True)
        self._reset()
        return record

    def mean_loss(self) -> float:
        return sum(self.losses) / max(1, len(self.losses))
