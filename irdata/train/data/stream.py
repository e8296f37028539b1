"""Deterministic training streams: the batch of every step is a function of
(seed, phase, epoch, rank, step), so `--resume` continues exactly.

In a data epoch each rank runs L lanes (L = DataLoader workers, or 1); lane l serves steps
l, l + L, ..., the DataLoader's round-robin order. A lane draws its shard order (with
replacement, or a permutation of its disjoint share), keeps a seeded shuffle buffer of
undecoded samples and picks each sample's task by weight; to resume mid-epoch it replays
these draws without decoding. Per-sample randomness: rng_for(seed, lane, sample number).
"""

from __future__ import annotations

from collections.abc import Iterator

import fsspec
import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info
from webdataset.tariterators import group_by_keys, tar_file_iterator

from irdata import tuning
from irdata.degrade import rng_for
from irdata.train.data.samples import to_tensor_layout
from irdata.train.data.tasks import REQUIRED_MEMBERS, maker_for


class EmptyShards(RuntimeError):
    """A whole pass over a task's shards gave no usable sample."""


def read_shard(url: str) -> Iterator[dict]:
    """Samples ({'__key__': ..., ext: bytes}) of one tar shard via fsspec; nothing decoded."""
    with fsspec.open(url, "rb") as fh:
        members = ({**member, "__url__": url} for member in tar_file_iterator(fh))
        yield from group_by_keys(members)


def shard_order(urls: list[str], rng: np.random.Generator, resampled: bool,
                lane_id: int, lanes_total: int) -> Iterator[str]:
    """Endless shard URLs: drawn with replacement, or permutations of this lane's share."""
    if resampled:
        while True:
            yield urls[int(rng.integers(len(urls)))]
    mine = urls[lane_id::lanes_total]
    if not mine:
        raise ValueError(f"{len(urls)} shards cannot be split over {lanes_total} ranks x "
                         "loader workers: set data.resampled: true or use fewer workers")
    while True:
        for index in rng.permutation(len(mine)):
            yield mine[int(index)]


def raw_samples(urls: list[str], rng: np.random.Generator, resampled: bool, lane_id: int,
                lanes_total: int, required: tuple[str, ...]) -> Iterator[dict]:
    """Endless raw samples holding the `required` members, in lane order."""
    barren = 0
    for url in shard_order(urls, rng, resampled, lane_id, lanes_total):
        found = 0
        for sample in read_shard(url):
            if all(member in sample for member in required):
                found += 1
                yield sample
        barren = 0 if found else barren + 1
        if barren >= max(len(urls), 1) * 2:
            raise EmptyShards(f"no usable samples (members {', '.join(required)}) in "
                              f"{len(urls)} shards, e.g. {urls[0]}")


def shuffled(samples: Iterator[dict], size: int, rng: np.random.Generator) -> Iterator[dict]:
    """A seeded shuffle buffer over an endless stream."""
    buffer: list[dict] = []
    for sample in samples:
        if len(buffer) < size:
            buffer.append(sample)
            continue
        index = int(rng.integers(size))
        yield buffer[index]
        buffer[index] = sample


class Lane:
    """One lane of one rank in one epoch: an endless stream of (task, raw sample)."""

    def __init__(self, tasks: dict[str, dict], urls: dict[str, list[str]], seed: int,
                 segment: str, lane_id: int, lanes_total: int, shuffle: int, resampled: bool):
        self.name = f"{segment}/lane{lane_id}"
        self.seed = seed
        self.names = list(tasks)
        weights = np.array([tasks[n]["weight"] for n in self.names], np.float64)
        self.cumulative = np.cumsum(weights / weights.sum())
        self.choice_rng = rng_for(seed, self.name, -1)
        self.streams = {}
        for number, name in enumerate(self.names):
            order_rng = rng_for(seed, f"{self.name}/{name}", 2 * number)
            buffer_rng = rng_for(seed, f"{self.name}/{name}", 2 * number + 1)
            required = REQUIRED_MEMBERS[tasks[name]["kind"]]
            stream = raw_samples(urls[name], order_rng, resampled, lane_id, lanes_total,
                                 required)
            self.streams[name] = shuffled(stream, shuffle, buffer_rng)
        self.count = 0

    def next_raw(self) -> tuple[str, dict, int]:
        """(task name, raw sample, sample number in this lane)."""
        draw = self.choice_rng.random()
        name = self.names[min(int(np.searchsorted(self.cumulative, draw, side="right")),
                              len(self.names) - 1)]
        number, self.count = self.count, self.count + 1
        return name, next(self.streams[name]), number

    def sample_rng(self, number: int) -> np.random.Generator:
        return rng_for(self.seed, self.name, number)


def _collate(items: list[tuple], step: int) -> dict:
    lq, gt, tasks, keys, applied = zip(*items, strict=True)
    return {"lq": torch.from_numpy(np.stack(lq)), "gt": torch.from_numpy(np.stack(gt)),
            "task": list(tasks), "key": list(keys), "applied": list(applied), "step": step}


class EpochBatches(IterableDataset):
    """Batches of steps [offset, steps) of one data epoch of one rank, for a DataLoader of
    `lanes` workers (none for 1) and batch_size=None; each carries `step`, its epoch index."""

    def __init__(self, tasks: dict[str, dict], urls: dict[str, list[str]], *, seed: int,
                 segment: str, rank: int, world: int, lanes: int, offset: int, steps: int,
                 crop: int, batch: int, shuffle: int, resampled: bool):
        super().__init__()
        self.tasks, self.urls = tasks, urls
        self.seed, self.segment, self.rank, self.world = seed, segment, rank, world
        self.lanes, self.offset, self.steps = lanes, offset, steps
        self.crop, self.batch, self.shuffle, self.resampled = crop, batch, shuffle, resampled

    def _lane_number(self) -> int:
        info = get_worker_info()
        worker = info.id if info else 0
        if (info.num_workers if info else 1) != self.lanes:
            raise RuntimeError(f"EpochBatches expects {self.lanes} loader workers")
        return (worker + self.offset) % self.lanes

    def __iter__(self):
        if get_worker_info() is not None:  # a loader worker: leave the cores to others
            torch.set_num_threads(1)
            tuning.reuse_freed_memory()  # degradations allocate and free whole patches
        number = self._lane_number()
        lane = Lane(self.tasks, self.urls, self.seed, f"{self.segment}/rank{self.rank}",
                    self.rank * self.lanes + number, self.world * self.lanes,
                    self.shuffle, self.resampled)
        first = self.offset + (number - self.offset) % self.lanes
        for _ in range((first // self.lanes) * self.batch):  # served before `offset`
            lane.next_raw()
        makers = {name: maker_for(task) for name, task in self.tasks.items()}
        for step in range(first, self.steps, self.lanes):
            items = []
            for _ in range(self.batch):
                name, sample, index = lane.next_raw()
                lq, gt, applied = makers[name](lane.sample_rng(index), sample, self.crop)
                items.append((to_tensor_layout(lq), to_tensor_layout(gt), name,
                              sample["__key__"], applied))
            yield _collate(items, step)
