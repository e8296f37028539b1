"""Training loader throughput: samples/s per DataLoader worker from patch shards.

    python benchmarks/loader.py SHARDS [--workers 1 2] [--crop 128] [--batch 8]
                                [--batches 40] [--policy dynet_pretrain|clean]

SHARDS is what `irdata train` takes (a folder of .tar, a brace pattern, ...),
e.g. the patches of `irdata demo` or of `benchmarks/stages.py`. The loader
is the training one (irdata.train.data.feed: deterministic lanes, shuffle buffer, PNG
decode, random crop + flip/rotation, the pre-training policy's degradations),
without a model. Worker start-up is excluded: timing starts at the first batch.
Prints a table and appends one row to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from record import append_result, machine

from irdata.train import settings
from irdata.train.data.feed import Feed

CLEAN = {"p_degrade": 0.0, "p_mask": 0.0}


def samples_per_second(shards: str, workers: int, crop: int, batch: int, batches: int,
                       policy: dict | None) -> float:
    raw = {"out": "unused", "model": {"config": "tiny"},
           "data": {"shards": shards, "workers": workers, "shuffle": 64,
                    "epoch_steps": batches + 1, "policy": policy},
           "schedule": [{"steps": batches + 1, "crop": crop, "batch": batch}]}
    config = settings.finalize(settings.validate(raw, "pretrain"))
    batches_seen, started = 0, None
    for _, _, _ in Feed(config).batches(0):
        if started is None:  # the first batch pays for worker start-up
            started = time.perf_counter()
            continue
        batches_seen += 1
    return batches_seen * batch / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("shards")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--batches", type=int, default=40)
    parser.add_argument("--policy", choices=["dynet_pretrain", "clean"], default="dynet_pretrain")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    policy = CLEAN if args.policy == "clean" else {"name": "dynet_pretrain"}
    rows = []
    print(f"{'workers':>8} {'samples/s':>10} {'per worker':>11}")
    for workers in args.workers:
        try:
            rate = samples_per_second(args.shards, workers, args.crop, args.batch,
                                      args.batches, policy)
        except ValueError as exc:  # no shards there, a bad shard, ...
            raise SystemExit(f"loader.py: {exc}") from None
        per_worker = rate / max(1, workers)
        rows.append(f"{workers} workers {rate:.1f}/s ({per_worker:.1f}/s per worker)")
        print(f"{workers:>8} {rate:>10.1f} {per_worker:>11.1f}")
    setup = (f"crop {args.crop}, batch {args.batch}, {args.batches} batches, policy "
             f"{args.policy}, {machine()}")
    if not args.no_record:
        print(append_result("loader (samples/s)", args.shards, setup, "; ".join(rows)))


if __name__ == "__main__":
    main()
