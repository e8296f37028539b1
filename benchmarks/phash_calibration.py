"""Calibrate dedupe thresholds on real photos: pHash / dHash distances of copies
and of distinct images, through irdata's own inspect path.

    python benchmarks/phash_calibration.py DIR [DIR ...] [--no-record]

For every image: a 0.5x resize (lossless PNG), a JPEG quality-70 re-encode, the
0.5x + q70 copy the demo plants, a crop of 5% off each side and crops of 5%
off one side (each side in turn; crops saved as JPEG q95). Each copy is hashed
by `inspect_bytes` exactly as the fetch stage hashes a download. Distinct pairs
are all pairs of different source images across the folders. Prints
min/mean/max per kind, the share of copies caught and of distinct pairs
merged per threshold, and a recommendation; appends a summary to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from itertools import combinations

import cv2
import numpy as np

from irdata.dedupe.clusters import DHASH_DISTANCE
from irdata.dedupe.search import hamming, hex_to_u64
from irdata.demo import synth
from irdata.inspection import examine, inspect_bytes

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from image_files import image_paths, skipped
from record import append_result, machine

MAX_PIXELS, MIN_SIDE = 300_000_000, 1
MAX_SEARCH_RADIUS = 8  # keeps the 1M-image search well under 60 s (dedupe_scale.py)
PAIRS_AT_SCALE = 2_000_000 * 1_999_999 // 2  # a Million-IRD build
COPY_KINDS = ("resize_0.5x", "jpeg_q70", "resize_0.5x_q70", "crop_5%_each_side",
              "crop_5%_one_side")


def hashes(data: bytes) -> tuple[int, int]:
    return hashes_of(inspect_bytes(data, MAX_PIXELS, MIN_SIDE))


def hashes_of(found) -> tuple[int, int]:
    """(pHash, dHash) of an Inspection as ints; ValueError when it was dropped."""
    if found.status != "ok":
        raise ValueError(f"{found.reason}: {found.detail}")
    return tuple(int(v) for v in hex_to_u64([found.phash, found.dhash]))


def _crop(pixels: np.ndarray, left: float, top: float, right: float, bottom: float) -> bytes:
    h, w = pixels.shape[:2]
    part = pixels[int(h * top):h - int(h * bottom), int(w * left):w - int(w * right)]
    return synth.encode(np.ascontiguousarray(part), "jpg", 95)


def copies(pixels: np.ndarray) -> dict[str, list[bytes]]:
    """Encoded copies of an oriented RGB image, by kind."""
    h, w = pixels.shape[:2]
    half = cv2.resize(pixels, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    sides = [(0.05, 0, 0, 0), (0, 0.05, 0, 0), (0, 0, 0.05, 0), (0, 0, 0, 0.05)]
    return {"resize_0.5x": [synth.encode(half, "png")],
            "jpeg_q70": [synth.encode(pixels, "jpg", 70)],
            "resize_0.5x_q70": [synth.near_duplicate(pixels, 0.5, 70)],
            "crop_5%_each_side": [_crop(pixels, 0.05, 0.05, 0.05, 0.05)],
            "crop_5%_one_side": [_crop(pixels, *side) for side in sides]}


def measure(paths: list[str]) -> tuple[dict[str, list[tuple[int, int]]], list[tuple[int, int]]]:
    """({kind: [(pHash distance, dHash distance)]}, originals' (pHash, dHash))."""
    found = {kind: [] for kind in COPY_KINDS}
    originals = []
    for path in paths:
        with open(path, "rb") as fh:
            data = fh.read()
        inspection, pixels = examine(data, MAX_PIXELS, MIN_SIDE)  # one decode for both
        try:
            p, d = hashes_of(inspection)
        except ValueError as exc:  # dropped by inspection
            skipped(path, exc)
            continue
        originals.append((p, d))
        for kind, blobs in copies(pixels).items():
            for blob in blobs:
                cp, cd = hashes(blob)
                found[kind].append((_distance(p, cp), _distance(d, cd)))
        print(f"  {os.path.basename(path)}: {pixels.shape[1]}x{pixels.shape[0]}", flush=True)
    return found, originals


def _distance(a: int, b: int) -> int:
    return int(hamming(np.uint64(a), np.uint64(b)))


def distinct_pairs(originals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    return [(_distance(a[0], b[0]), _distance(a[1], b[1])) for a, b in combinations(originals, 2)]


def summary(rows: list[tuple[int, int]]) -> str:
    x = np.array(rows).reshape(-1, 2)
    return " ".join(f"{x[:, k].min():>3} {x[:, k].mean():>5.1f} {x[:, k].max():>3}" for k in (0, 1))


def caught(rows, pd: int, dd: int) -> float:
    x = np.array(rows).reshape(-1, 2)
    return float(np.mean((x[:, 0] <= pd) & (x[:, 1] <= dd)))


def _normal_cdf(z: np.ndarray) -> np.ndarray:
    return 0.5 * np.vectorize(math.erfc)(-z / math.sqrt(2.0))


def tail_at_scale(pairs, pd: int, dd: int) -> tuple[float, float]:
    """Chance merges expected among 2M distinct images (2e12 pairs), from a
    bivariate normal fitted to the distinct pairs' (pHash, dHash) distances:
    (pHash alone, pHash and dHash). An order of magnitude, not a promise: real
    tails (flat, near-uniform, templated images) are heavier than normal."""
    x = np.array(pairs, dtype=float)
    mean, std = x.mean(axis=0), x.std(axis=0)
    rho = float(np.corrcoef(x.T)[0, 1])
    # pHash sets exactly 32 of 64 bits (above the median), so its distances are even
    a, b = (pd + 1.0 - mean[0]) / std[0], (dd + 0.5 - mean[1]) / std[1]
    grid = np.linspace(a - 12.0, a, 20001)
    density = np.exp(-grid ** 2 / 2) / math.sqrt(2 * math.pi)
    joint = np.trapezoid(density * _normal_cdf((b - rho * grid) / math.sqrt(1 - rho ** 2)), grid)
    alone = float(_normal_cdf(np.array([a]))[0])
    return alone * PAIRS_AT_SCALE, float(joint) * PAIRS_AT_SCALE


def recommend(found: dict, pairs: list) -> tuple[int, int]:
    """phash_distance: the largest radius <= MAX_SEARCH_RADIUS, clear of every
    distinct pair by a margin of 4 bits. dhash_distance: the smallest that
    confirms every copy the pHash radius catches, while staying 4 bits clear
    of every distinct pair's dHash distance."""
    p_distinct = min(p for p, _ in pairs)
    d_distinct = min(d for _, d in pairs)
    pd = max(0, min(MAX_SEARCH_RADIUS, p_distinct - 4))
    copy_dd = [d for rows in found.values() for p, d in rows if p <= pd]
    dd = min(max(copy_dd, default=0), d_distinct - 4)
    return pd, dd


def _print(found: dict, pairs: list, pd: int, dd: int) -> None:
    print(f"\n{'kind':<20} {'n':>4}  pHash min mean max  dHash min mean max")
    for kind, rows in list(found.items()) + [("distinct pairs", pairs)]:
        print(f"{kind:<20} {len(rows):>4}  {summary(rows)}")
    heads = " ".join(f"{k[:17]:>17}" for k in found)
    print(f"\nshare caught by pHash alone (<= r; pHash distances are even):\n{'r':>3} {heads} "
          f"{'distinct merged':>16}")
    for r in range(0, 13, 2):
        cells = " ".join(f"{caught(rows, r, 64):>17.2f}" for rows in found.values())
        print(f"{r:>3} {cells} {caught(pairs, r, 64):>16.4f}")
    print(f"\nshare caught at phash_distance={pd} by dhash_distance t, and chance merges "
          f"expected among 2M distinct images (normal tail):\n{'t':>3} {heads} "
          f"{'distinct merged':>16} {'at 2M':>8}")
    for t in sorted({6, 8, 10, 12, 14, dd, DHASH_DISTANCE, 64}):  # with the default
        cells = " ".join(f"{caught(rows, pd, t):>17.2f}" for rows in found.values())
        chance = tail_at_scale(pairs, pd, t)[1]
        print(f"{t:>3} {cells} {caught(pairs, pd, t):>16.4f} {chance:>8.3g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+")
    parser.add_argument("--no-record", action="store_true", help="do not touch BENCHMARKS.md")
    args = parser.parse_args()
    found, originals = measure(image_paths(args.folders))
    pairs = distinct_pairs(originals)
    pd, dd = recommend(found, pairs)
    _print(found, pairs, pd, dd)
    alone, joint = tail_at_scale(pairs, pd, dd)
    rho = np.corrcoef(np.array(pairs, dtype=float).T)[0, 1]
    print(f"\ndistinct pairs: correlation of pHash and dHash distances {rho:.2f}")
    print(f"recommendation: phash_distance={pd}, dhash_distance={dd}")
    print(f"normal-tail estimate over 2M distinct images: {alone:.3g} chance pHash pairs "
          f"within {pd}, {joint:.3g} also within dHash {dd}")
    if args.no_record:
        return
    names = "+".join(os.path.basename(os.path.normpath(f)) for f in args.folders)
    kinds = "; ".join(f"{k} {summary(v).split()[2]}" for k, v in found.items())
    print(append_result(
        "phash_calibration", f"{names} ({len(originals)} images)", f"inspect_bytes, {machine()}",
        f"max pHash of copies: {kinds}; distinct pairs min pHash {min(p for p, _ in pairs)} / "
        f"dHash {min(d for _, d in pairs)}; caught at ({pd},{dd}): "
        + ", ".join(f"{k} {caught(v, pd, dd):.2f}" for k, v in found.items())
        + f"; recommend phash_distance={pd}, dhash_distance={dd}"))


if __name__ == "__main__":
    main()
