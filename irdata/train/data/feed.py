"""The batches of a training run, step by step: the progressive schedule cut into
phases and data epochs, one DataLoader per epoch, time spent waiting measured."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

from torch.utils.data import DataLoader

from irdata.train.data import shardlist
from irdata.train.data.stream import EpochBatches
from irdata.train.settings import total_steps


@dataclass(frozen=True)
class Segment:
    """Steps [start, stop) of the run: one data epoch of one schedule phase."""

    phase: int
    epoch: int
    start: int
    stop: int
    crop: int
    batch: int

    @property
    def name(self) -> str:
        return f"phase{self.phase}/epoch{self.epoch}"


def phases(config: dict) -> list[tuple[int, int, dict]]:
    """(start, stop, phase) of each schedule phase, cut or extended to the total steps."""
    total, start, out = total_steps(config), 0, []
    schedule = config["schedule"]
    for number, phase in enumerate(schedule):
        stop = total if number == len(schedule) - 1 else min(start + phase["steps"], total)
        if stop > start:
            out.append((start, stop, phase))
        start = stop
    return out


def segments(config: dict) -> list[Segment]:
    """Every data epoch of the run, in order."""
    epoch_steps = config["data"]["epoch_steps"]
    found = []
    for number, (start, stop, phase) in enumerate(phases(config)):
        for epoch, first in enumerate(range(start, stop, epoch_steps)):
            found.append(Segment(number, epoch, first, min(first + epoch_steps, stop),
                                 phase["crop"], phase["batch"]))
    return found


def task_urls(config: dict, world: int = 1) -> dict[str, list[str]]:
    """Shard URLs per task; ValueError naming the task when a spec finds none, or
    (split mode) when there are fewer shards than ranks x loader workers."""
    lanes = world * max(1, config["data"]["workers"])
    urls = {}
    for name, task in config["tasks"].items():
        try:
            urls[name] = shardlist.expand(task["shards"])
        except (ValueError, OSError) as exc:
            raise ValueError(f"task {name}: {exc}") from None
        missing = shardlist.check_exist(urls[name])
        if missing:
            raise ValueError(f"task {name}: {len(missing)} of {len(urls[name])} shards do not "
                             f"exist, e.g. {missing[0]}")
        if not config["data"]["resampled"] and len(urls[name]) < lanes:
            raise ValueError(f"task {name}: {len(urls[name])} shards cannot be split over "
                             f"{world} ranks x {max(1, config['data']['workers'])} loader "
                             "workers: set data.resampled: true or use fewer workers")
    return urls


class Feed:
    """(step, segment, batch) from `start` on; `wait`: seconds blocked on data since take_wait."""

    def __init__(self, config: dict, rank: int = 0, world: int = 1, pin_memory: bool = False):
        self.config, self.rank, self.world = config, rank, world
        self.urls = task_urls(config, world)
        self.pin_memory = pin_memory
        self.wait = 0.0

    def _loader(self, segment: Segment, offset: int) -> DataLoader:
        data = self.config["data"]
        workers = data["workers"]
        dataset = EpochBatches(
            self.config["tasks"], self.urls, seed=self.config["seed"], segment=segment.name,
            rank=self.rank, world=self.world, lanes=max(1, workers), offset=offset,
            steps=segment.stop - segment.start, crop=segment.crop, batch=segment.batch,
            shuffle=data["shuffle"], resampled=data["resampled"])
        return DataLoader(dataset, batch_size=None, num_workers=workers,
                          pin_memory=self.pin_memory, prefetch_factor=2 if workers else None)

    def take_wait(self) -> float:
        wait, self.wait = self.wait, 0.0
        return wait

    def batches(self, start: int = 0) -> Iterator[tuple[int, Segment, dict]]:
        for segment in segments(self.config):
            if segment.stop <= start:
                continue
            offset = max(0, start - segment.start)
            iterator = iter(self._loader(segment, offset))
            for step in range(segment.start + offset, segment.stop):
                began = time.perf_counter()
                batch = next(iterator)
                self.wait += time.perf_counter() - began
                if batch["step"] != step - segment.start:
                    raise RuntimeError(f"data order broken: expected step {step}, got "
                                       f"{segment.start + batch['step']}")
                yield step, segment, batch
            del iterator
