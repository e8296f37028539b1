"""Cost of each degradation on a 512x512 patch, one thread.

    python benchmarks/degrade_cost.py [IMAGE] [--draws 40] [--repeat 3] [--no-record]

For every kind, params are drawn from its default ranges (``--draws`` samples);
each sample is applied ``--repeat`` times and its fastest run kept (the machine
may be shared). Prints median and 90th percentile over the samples and the
cost at the kind's "high" preview level, first with glibc's default allocator
settings, then after ``irdata.tuning.reuse_freed_memory()`` (freed
images kept for reuse instead of being faulted in again); appends a row.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import cv2
import numpy as np

from irdata.degrade import KINDS, apply, get, rng_for, to_float
from irdata.demo import synth
from irdata.tuning import reuse_freed_memory

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from record import append_result, machine

SIZE = 512


def patch(path: str | None) -> np.ndarray:
    """A 512x512 float patch: the centre of IMAGE, or a procedural image."""
    if path is None:
        return to_float(np.ascontiguousarray(synth.procedural_image(0, SIZE, SIZE)))
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise SystemExit(f"cannot read {path}")
    top, left = (bgr.shape[0] - SIZE) // 2, (bgr.shape[1] - SIZE) // 2
    crop = bgr[max(top, 0):max(top, 0) + SIZE, max(left, 0):max(left, 0) + SIZE]
    crop = cv2.resize(crop, (SIZE, SIZE)) if crop.shape[:2] != (SIZE, SIZE) else crop
    return to_float(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB))


def fastest_ms(image: np.ndarray, name: str, params: dict, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        apply(name, image, params)
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def measure(image: np.ndarray, name: str, draws: int, repeat: int) -> dict:
    kind = get(name)
    apply(name, image, kind.sample(rng_for(0, "warm-up"), None))
    costs = [fastest_ms(image, name, kind.sample(rng_for(0, f"bench-{i}"), None), repeat)
             for i in range(draws)]
    high = kind.sample(rng_for(0, "high"), kind.levels["high"]) if "high" in kind.levels else None
    return {"median": float(np.median(costs)), "p90": float(np.percentile(costs, 90)),
            "high": fastest_ms(image, name, high, repeat) if high else float("nan")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image", nargs="?",
                        help="photo to cut the patch from (default: procedural)")
    parser.add_argument("--draws", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-record", action="store_true", help="do not append to BENCHMARKS.md")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    image = patch(args.image)
    default = {name: measure(image, name, args.draws, args.repeat) for name in KINDS}
    tuned_ok = reuse_freed_memory()
    tuned = {name: measure(image, name, args.draws, args.repeat) for name in KINDS}
    print(f"{'':<16} {'default malloc':^28} | {'reuse_freed_memory()':^28}")
    print(f"{'kind':<16} {'median ms':>10} {'p90 ms':>8} {'high ms':>8} | "
          f"{'median ms':>10} {'p90 ms':>8} {'high ms':>8}")
    for name in KINDS:
        a, b = default[name], tuned[name]
        print(f"{name:<16} {a['median']:>10.2f} {a['p90']:>8.2f} {a['high']:>8.2f} | "
              f"{b['median']:>10.2f} {b['p90']:>8.2f} {b['high']:>8.2f}")
    if not tuned_ok:
        print("(reuse_freed_memory() was refused: both columns use the default allocator)")
    if not args.no_record:
        summary = "; ".join(f"{n} {default[n]['median']:.1f}/{default[n]['p90']:.1f} "
                            f"(reuse {tuned[n]['median']:.1f}/{tuned[n]['p90']:.1f})"
                            for n in KINDS)
        data = os.path.basename(args.image) if args.image else "procedural"
        print(append_result("degrade_cost", f"{data} 512x512",
                            f"1 thread, {machine()}, {args.draws} draws x best of {args.repeat}",
                            f"ms median/p90 per kind: {summary}"))

if __name__ == "__main__":
    main()
