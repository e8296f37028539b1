"""Calibrate the flat-region detector on labelled real patches.

    python benchmarks/flat_calibration.py [DIR] [--image PHOTO] [--runs N] [--no-record]

DIR (default tests/data/flat) holds PNG crops and labels.csv (file, label flat|textured,
source, x, y, note). The sweep covers three block measures — gradient energy at half
resolution (the one irdata.patching.flat uses), gradient energy at full resolution and
the plain block standard deviation — with block sizes 8/16/32 and thresholds 1-12.
For each setting it prints accuracy, precision and recall of "flat" (flat fraction >
MAX_FLAT_FRACTION, flat being the positive class), then the best thresholds per measure
and block, the library default's confusion matrix and mistakes, and its cost: the median
ms per 512x512 patch on one core (a real patch cut from PHOTO, or a 2x2 mosaic of four
labelled crops). Appends a row to BENCHMARKS.md unless --no-record.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time

import cv2
import numpy as np

from irdata.patching import flat
from irdata.patching.grid import grid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from record import append_result, machine

BLOCKS = (8, 16, 32)
THRESHOLDS = tuple(np.arange(1.0, 12.01, 0.5).round(1))


def _blocks(lum: np.ndarray, block: int) -> np.ndarray:
    rows, cols = lum.shape[0] // block, lum.shape[1] // block
    return lum[:rows * block, :cols * block].reshape(rows, block, cols, block)


def block_std(lum: np.ndarray, block: int) -> np.ndarray:
    """Standard deviation of each block (the alternative measure)."""
    return _blocks(lum, block).std(axis=(1, 3))


def block_energy_full(lum: np.ndarray, block: int) -> np.ndarray:
    """Gradient energy inside each block at full resolution (no 2x2 averaging)."""
    view = _blocks(lum, block)
    dx, dy = np.diff(view, axis=3), np.diff(view, axis=1)
    total = (dx * dx).sum(axis=(1, 3)) + (dy * dy).sum(axis=(1, 3))
    return np.sqrt(total / (2 * block * (block - 1)))


MEASURES = {"gradient-half": flat.block_energy, "gradient-full": block_energy_full,
            "std": block_std}


def load_set(folder: str) -> list[dict]:
    """Labelled crops with their luminance."""
    with open(os.path.join(folder, "labels.csv"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        bgr = cv2.imread(os.path.join(folder, row["file"]), cv2.IMREAD_COLOR)
        row["rgb"] = np.ascontiguousarray(bgr[:, :, ::-1])
        row["lum"] = flat.luminance(row["rgb"])
        row["flat"] = row["label"] == "flat"
    return rows


def scores(predicted: np.ndarray, truth: np.ndarray) -> dict:
    """Accuracy, precision and recall with flat as the positive class, plus counts."""
    tp = int(np.sum(predicted & truth))
    fp = int(np.sum(predicted & ~truth))
    fn = int(np.sum(~predicted & truth))
    tn = int(np.sum(~predicted & ~truth))
    return {"accuracy": (tp + tn) / len(truth), "precision": tp / (tp + fp) if tp + fp else 0.0,
            "recall": tp / (tp + fn) if tp + fn else 0.0, "tp": tp, "fp": fp, "fn": fn, "tn": tn}


def sweep(rows: list[dict]) -> dict:
    """(measure, block, threshold) -> scores."""
    truth = np.array([row["flat"] for row in rows])
    results = {}
    for name, measure in MEASURES.items():
        for block in BLOCKS:
            values = [measure(row["lum"], block) for row in rows]
            for threshold in THRESHOLDS:
                fractions = np.array([np.mean(v < threshold) for v in values])
                predicted = fractions > flat.MAX_FLAT_FRACTION
                results[name, block, threshold] = scores(predicted, truth)
    return results


def print_sweep(results: dict) -> None:
    for name in MEASURES:
        print(f"\n{name}: accuracy / precision / recall of 'flat' per block size")
        print(f"{'threshold':>9} " + " ".join(f"{f'block {b}':>16}" for b in BLOCKS))
        for threshold in THRESHOLDS:
            cells = [results[name, b, threshold] for b in BLOCKS]
            print(f"{threshold:>9.1f} " + " ".join(
                f"{c['accuracy']:>6.2f}{c['precision']:>5.2f}{c['recall']:>5.2f}" for c in cells))


def best_settings(results: dict) -> list[tuple]:
    """Per measure and block: best accuracy and the thresholds that reach it."""
    out = []
    for name in MEASURES:
        for block in BLOCKS:
            accs = {t: results[name, block, t]["accuracy"] for t in THRESHOLDS}
            top = max(accs.values())
            out.append((name, block, top, [t for t, a in accs.items() if a == top]))
    return out


def mistakes(rows: list[dict], block: int, threshold: float) -> list[str]:
    lines = []
    for row in rows:
        fraction = flat.flat_fraction(row["rgb"], block, threshold)
        if flat.is_flat(fraction) != row["flat"]:
            lines.append(f"  {row['file']} ({row['label']}, flat fraction {fraction:.2f}): "
                         f"{row['note']}")
    return lines


def timing_patch(rows: list[dict], image: str | None) -> tuple[np.ndarray, str]:
    """A real 512x512 patch: the first grid cell of PHOTO, else a mosaic of labelled crops."""
    if image:
        rgb = cv2.imread(image, cv2.IMREAD_COLOR)[:, :, ::-1]
        y, x = grid(rgb.shape[1], rgb.shape[0])[0]
        return np.ascontiguousarray(rgb[y:y + 512, x:x + 512]), os.path.basename(image)
    picks = [rows[0], rows[1], rows[-2], rows[-1]]
    top = np.hstack([p["rgb"][:256, :256] for p in picks[:2]])
    bottom = np.hstack([p["rgb"][:256, :256] for p in picks[2:]])
    return np.ascontiguousarray(np.vstack([top, bottom])), "2x2 mosaic of labelled crops"


def cost_ms(patch: np.ndarray, runs: int) -> float:
    """Median ms of flat_fraction with the defaults on one core."""
    cv2.setNumThreads(1)
    flat.flat_fraction(patch)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        flat.flat_fraction(patch)
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1e3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", default="tests/data/flat")
    parser.add_argument("--image", help="photo to cut the timing patch from")
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--no-record", action="store_true", help="do not append to BENCHMARKS.md")
    args = parser.parse_args()

    rows = load_set(args.folder)
    n_flat = sum(row["flat"] for row in rows)
    print(f"{len(rows)} labelled patches: {n_flat} flat, {len(rows) - n_flat} textured")
    results = sweep(rows)
    print_sweep(results)
    print("\nbest accuracy per measure and block (thresholds reaching it):")
    for name, block, top, thresholds in best_settings(results):
        print(f"  {name:>13} block {block:>2}: {top:.3f} at {', '.join(map(str, thresholds))}")

    block, threshold = flat.DEFAULT_BLOCK, flat.DEFAULT_THRESHOLD
    chosen = results["gradient-half", block, threshold]
    print(f"\ndefault: gradient-half, block {block}, threshold {threshold}: "
          f"accuracy {chosen['accuracy']:.3f}, precision {chosen['precision']:.3f}, "
          f"recall {chosen['recall']:.3f}")
    print(f"{'':>16}{'predicted flat':>16}{'predicted textured':>20}")
    print(f"{'labelled flat':>16}{chosen['tp']:>16}{chosen['fn']:>20}")
    print(f"{'labelled textured':>16}{chosen['fp']:>16}{chosen['tn']:>20}")
    print("\n".join(["mistakes:"] + mistakes(rows, block, threshold)))

    patch, patch_name = timing_patch(rows, args.image)
    ms = cost_ms(patch, args.runs)
    print(f"\ncost: {ms:.3f} ms per 512x512 patch (1 core, median of {args.runs}, {patch_name})")
    if not args.no_record:
        data = f"{os.path.basename(os.path.abspath(args.folder))} ({len(rows)} labelled patches)"
        setup = f"gradient-half block {block}, threshold {threshold:g}, 1 thread, {machine()}"
        result = (f"accuracy {chosen['accuracy']:.3f}, precision {chosen['precision']:.3f}, "
                  f"recall {chosen['recall']:.3f}; {ms:.2f} ms per 512x512 patch")
        print(append_result("flat_calibration", data, setup, result))


if __name__ == "__main__":
    main()
