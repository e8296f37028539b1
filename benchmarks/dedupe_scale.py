"""Dedupe at scale: synthetic hashes with planted duplicates, 10k to 2M images.

    python benchmarks/dedupe_scale.py [--sizes 10000,100000,1000000,2000000]

Per size: seconds of the pHash candidate search alone and of the whole
`find_duplicates` (one core, untraced; the keeper's figures included),
microseconds per image, peak traced memory above the inputs (tracemalloc, in a
second run), growth against the previous size and its exponent (1.0 = linear;
the bound of any search that samples bits, exact or at a fixed recall, is
1 + log2(64 / (64 - r)): 1.19 at r = 8, see BENCHMARKS.md), and the share of
planted duplicates found. Then the false-merge count on 1M distinct random
hashes: pHash pairs within phash_distance before and after dHash confirmation.
Appends one row per measurement to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc

import numpy as np

from irdata.dedupe.clusters import DHASH_DISTANCE, PHASH_DISTANCE, confirm, find_duplicates
from irdata.dedupe.search import candidate_pairs

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from record import append_result, machine

NEAR_SHARE, EXACT_SHARE = 0.02, 0.01  # planted copies per image


def _flip(rng: np.random.Generator, values: np.ndarray, most: int) -> np.ndarray:
    """Each value with 0..most random bits flipped (distinct bits)."""
    out = values.copy()
    flips = rng.integers(0, most + 1, len(values))
    bits = rng.random((len(values), 64)).argsort(axis=1).astype(np.uint64)  # random order
    for k in range(most):
        rows = np.flatnonzero(flips > k)
        out[rows] ^= np.uint64(1) << bits[rows, k]
    return out


def _random_u64(rng: np.random.Generator, n: int) -> np.ndarray:
    return rng.integers(0, 2**64 - 1, n, dtype=np.uint64, endpoint=True)


def _hex(values: np.ndarray, width: int = 16) -> list[str]:
    raw = values.astype(">u8").tobytes().hex()
    return [raw[i:i + width] for i in range(0, len(raw), width)]


def _figures(n: int, seed: int) -> dict[str, list]:
    """The keeper rule's figures, coarse so that they tie often, ~10% null each
    (from their own generator: the hash columns stay those of earlier runs)."""
    rng = np.random.default_rng(seed + 1)

    def with_nulls(values: np.ndarray) -> list:
        out = values.tolist()
        for i in np.flatnonzero(rng.random(n) < 0.1).tolist():
            out[i] = None
        return out

    return {"upscaled": with_nulls(rng.random(n) < 0.05),
            "noise": with_nulls(rng.gamma(2.0, 1.0, n).astype(np.float32)),
            "jpeg_quality": with_nulls(rng.integers(60, 101, n).astype(np.int8)),
            "sharpness": with_nulls(rng.normal(12.0, 3.0, n).astype(np.float32))}


def synthetic(n: int, seed: int, pd: int, dd: int):
    """Columns for n images: distinct originals, near copies (pHash within pd,
    dHash within dd of an original) and exact copies, with the keeper's figures
    (upscaled, noise, jpeg_quality, sharpness); plus (copy, original) pairs."""
    rng = np.random.default_rng(seed)
    near, exact = int(n * NEAR_SHARE), int(n * EXACT_SHARE)
    originals = n - near - exact
    source = rng.choice(originals, near + exact, replace=False)
    p, d = _random_u64(rng, originals), _random_u64(rng, originals)
    p = np.concatenate([p, _flip(rng, p[source[:near]], pd), p[source[near:]]])
    d = np.concatenate([d, _flip(rng, d[source[:near]], dd), d[source[near:]]])
    sha = _random_u64(rng, 4 * n).reshape(n, 4)
    sha[originals + near:] = sha[source[near:]]
    side = rng.integers(500, 4000, (n, 2))
    side[originals:originals + near] //= 2  # near copies are smaller: originals keep
    side[originals + near:] = side[source[near:]]
    columns = {"image_id": _hex(rng.permutation(n).astype(np.uint64)),
               "sha256": _hex(sha.ravel(), 64), "phash": _hex(p), "dhash": _hex(d),
               "width": side[:, 0].tolist(), "height": side[:, 1].tolist(),
               "nbytes": (side[:, 0] * side[:, 1] // 4).tolist(), **_figures(n, seed)}
    planted = np.stack([np.arange(originals, n), source], axis=1)
    return columns, planted, p


def _found(table, columns: dict, planted: np.ndarray) -> int:
    """Planted copies that sit in their original's cluster."""
    cluster = dict(zip(table["image_id"].to_pylist(), table["cluster_id"].to_pylist(),
                       strict=True))
    ids = columns["image_id"]
    return sum(1 for a, b in planted if ids[a] in cluster
               and cluster.get(ids[a]) == cluster.get(ids[b]))


def measure(n: int, pd: int, dd: int) -> dict:
    columns, planted, p = synthetic(n, n, pd, dd)
    started = time.perf_counter()
    candidate_pairs(p, pd)
    search = time.perf_counter() - started
    started = time.perf_counter()
    table = find_duplicates(**columns, phash_distance=pd, dhash_distance=dd)
    seconds = time.perf_counter() - started
    tracemalloc.start()  # a second run for memory: tracing slows the first down ~20%
    find_duplicates(**columns, phash_distance=pd, dhash_distance=dd)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return {"n": n, "search_s": search, "total_s": seconds, "peak_mb": peak / 2**20,
            "rows": table.num_rows, "found": _found(table, columns, planted),
            "planted": len(planted)}


def false_merges(n: int, pd: int, dd: int) -> dict:
    """Distinct random hashes: pHash pairs within pd, and those dHash confirms."""
    rng = np.random.default_rng(12345)
    p, d = _random_u64(rng, n), _random_u64(rng, n)
    started = time.perf_counter()
    pairs = candidate_pairs(p, pd)
    kept, _ = confirm(pairs, d, dd)
    return {"n": n, "candidates": len(pairs), "confirmed": len(kept),
            "seconds": time.perf_counter() - started}


def _print_sizes(runs: list[dict]) -> None:
    print(f"{'images':>9} {'search s':>9} {'total s':>8} {'us/image':>9} {'peak MiB':>9} "
          f"{'growth':>7} {'exponent':>9} {'found':>14} {'rows':>7}")
    for k, run in enumerate(runs):
        growth = run["total_s"] / runs[k - 1]["total_s"] if k else float("nan")
        run["growth"] = growth
        run["exponent"] = (np.log(growth) / np.log(run["n"] / runs[k - 1]["n"]) if k
                           else float("nan"))
        print(f"{run['n']:>9} {run['search_s']:>9.2f} {run['total_s']:>8.2f} "
              f"{run['total_s'] / run['n'] * 1e6:>9.1f} {run['peak_mb']:>9.0f} {growth:>7.2f} "
              f"{run['exponent']:>9.2f} {run['found']:>6}/{run['planted']:<7} {run['rows']:>7}")


def bound_exponent(radius: int, bits: int = 64) -> float:
    """Growth exponent of bit-sampling search at `radius`: 1 + ln(1 - r/bits) / ln(1/2)."""
    return 1.0 + float(np.log2(bits / (bits - radius)))


def _growth(run: dict, radius: int) -> str:
    if np.isnan(run["growth"]):
        return "first size"
    return (f"growth x{run['growth']:.2f} (exponent {run['exponent']:.2f}; "
            f"bound {bound_exponent(radius):.2f})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000,2000000")
    parser.add_argument("--false-merge-size", type=int, default=1_000_000)
    parser.add_argument("--phash-distance", type=int, default=PHASH_DISTANCE)
    parser.add_argument("--dhash-distance", type=int, default=DHASH_DISTANCE)
    parser.add_argument("--no-record", action="store_true", help="do not touch BENCHMARKS.md")
    args = parser.parse_args()
    pd, dd = args.phash_distance, args.dhash_distance
    runs = [measure(int(s), pd, dd) for s in args.sizes.split(",")]
    _print_sizes(runs)
    print(f"bound of bit-sampling search at radius {pd}: exponent {bound_exponent(pd):.3f} "
          f"(x{2 ** bound_exponent(pd):.2f} per doubling)")
    fm = false_merges(args.false_merge_size, pd, dd)
    print(f"false merges on {fm['n']} distinct random hashes: {fm['candidates']} pHash "
          f"pairs within {pd}, {fm['confirmed']} after dHash <= {dd} ({fm['seconds']:.1f} s)")
    if args.no_record:
        return
    setup = f"phash<={pd}, dhash<={dd}, 1 process, {machine()}"
    for run in runs:
        print(append_result(
            "dedupe_scale", f"{run['n']} synthetic hashes, 2% near + 1% exact copies", setup,
            f"search {run['search_s']:.2f} s, find_duplicates {run['total_s']:.2f} s "
            f"({run['total_s'] / run['n'] * 1e6:.1f} us/image), "
            f"peak {run['peak_mb']:.0f} MiB, {_growth(run, pd)}, "
            f"planted found {run['found']}/{run['planted']}"))
    print(append_result(
        "dedupe_false_merges", f"{fm['n']} distinct random hashes", setup,
        f"{fm['candidates']} pHash candidate pairs, {fm['confirmed']} after dHash"))


if __name__ == "__main__":
    main()
