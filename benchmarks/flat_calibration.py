"""Calibrate the flat-region detector on 512x512 grid cells labelled by eye, choosing
on one half of the source images and reporting on the other.

    python benchmarks/flat_calibration.py CORPUS [--labels CSV] [--no-record]

CORPUS is the folder the labels' `image` paths are relative to (e.g.
../shared/corpus); --labels defaults to tests/data/cells/labels.csv (image, x, y,
label flat|textured|unsure, category, soft, pick, note). Cells labelled unsure are
left out. Images are split in halves by sha256 of their path (as
quality_calibration.py does); the threshold t (gradient energy at mid-grey), the
tone reference and the noise factor of irdata.patching.flat are swept on half A;
half B reports agreement with the labels, precision and recall of "flat" (Wilson
95% intervals), the confusion matrix and every mistake, next to two references:
the previous fixed rule (gradient energy < 4 everywhere) and a block standard
deviation < 4 rule. It also reports the share of labelled textured cells that any
cell gate drops with the library defaults, and the cost of all cell figures per
512x512 cell on one core. Appends a row to BENCHMARKS.md unless --no-record.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import os
import sys
import time
from collections import Counter

import cv2
import numpy as np

from irdata import config as config_mod
from irdata import tuning
from irdata.patching import figures, flat
from irdata.quality.noise import cell_noise

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from image_files import decoded
from quality_calibration import half_of, wilson
from record import append_result, machine

LABELS = os.path.join(os.path.dirname(__file__), "..", "tests", "data", "cells", "labels.csv")
PATCH = {name: spec.default for name, spec in config_mod.PATCH.items()}
THRESHOLDS = (3.0, 3.5, 4.0, 4.5, 5.0, 5.5, 6.0)
TONE_REFERENCES = (64.0, 96.0, 128.0, 192.0)
NOISE_FACTORS = (2.0, 3.0, 3.5, 4.0)


def load(corpus: str, labels: str) -> list[dict]:
    """Labelled cells (not unsure) with their block energies, tones, noise and pixels."""
    with open(labels, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["label"] in ("flat", "textured")]
    pixels: dict[str, np.ndarray] = {}
    cells = []
    for row in rows:
        if row["image"] not in pixels:
            found = decoded(os.path.join(corpus, row["image"]))
            pixels[row["image"]] = None if found is None else found[1]
        image = pixels[row["image"]]
        if image is None:
            continue
        x, y = int(row["x"]), int(row["y"])
        rgb = np.ascontiguousarray(image[y:y + 512, x:x + 512])
        lum = flat.luminance(rgb)
        energy, tone = flat.block_energy_and_tone(lum)
        cells.append({**row, "rgb": rgb, "energy": energy, "tone": tone,
                      "noise": cell_noise(lum) or 0.0, "half": half_of(row["image"]),
                      "std": lum.astype(np.float32).reshape(32, 16, 32, 16).std(axis=(1, 3))})
    return cells


def rule_flat(cell: dict, t: float, reference: float, factor: float) -> bool:
    tone = np.minimum(1.0, (cell["tone"] + flat.TONE_OFFSET) / (reference + flat.TONE_OFFSET))
    threshold = (t * tone) ** 2 + min(factor * cell["noise"], flat.NOISE_FLOOR_MAX) ** 2
    return float(np.mean(cell["energy"] ** 2 <= threshold)) > flat.MAX_FLAT_FRACTION


def old_flat(cell: dict) -> bool:
    return float(np.mean(cell["energy"] < 4.0)) > flat.MAX_FLAT_FRACTION


def std_flat(cell: dict) -> bool:
    return float(np.mean(cell["std"] < 4.0)) > flat.MAX_FLAT_FRACTION


def score(cells: list[dict], predict) -> dict:
    truth = np.array([c["label"] == "flat" for c in cells])
    guess = np.array([predict(c) for c in cells])
    return {"agree": int((truth == guess).sum()), "n": len(cells),
            "tp": int((truth & guess).sum()), "fp": int((~truth & guess).sum()),
            "fn": int((truth & ~guess).sum()), "tn": int((~truth & ~guess).sum()),
            "wrong": [c for c, t, g in zip(cells, truth, guess, strict=True) if t != g]}


def sweep(cells: list[dict]) -> tuple[tuple, list[tuple]]:
    """The (t, reference, factor) with the best agreement on `cells`, and every result."""
    results = []
    for params in itertools.product(THRESHOLDS, TONE_REFERENCES, NOISE_FACTORS):
        found = score(cells, lambda c, p=params: rule_flat(c, *p))
        results.append((found["agree"] / found["n"], params))
    results.sort(key=lambda r: (-r[0], abs(r[1][0] - 4.0)))
    return results[0][1], results


def summary(name: str, found: dict) -> str:
    flat_total = found["tp"] + found["fn"]
    return (f"| {name} | {wilson(found['agree'], found['n'])} | "
            f"{wilson(found['tp'], found['tp'] + found['fp'])} | "
            f"{wilson(found['tp'], flat_total)} | {found['tp']} / {found['fn']} / "
            f"{found['fp']} / {found['tn']} |")


def textured_drops(cells: list[dict]) -> tuple[int, int, Counter]:
    textured = [c for c in cells if c["label"] == "textured"]
    reasons = Counter(figures.judge(figures.measure(c["rgb"], PATCH["flat_block"],
                                                    PATCH["flat_threshold"]), PATCH)
                      for c in textured)
    return sum(v for k, v in reasons.items() if k), len(textured), reasons


def cost_ms(cells: list[dict], runs: int = 3) -> float:
    tuning.tune()
    sample = [c["rgb"] for c in cells[:40]]
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        for rgb in sample:
            figures.measure(rgb, PATCH["flat_block"], PATCH["flat_threshold"])
        best = min(best, (time.perf_counter() - start) / len(sample) * 1000)
    return best


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus")
    parser.add_argument("--labels", default=LABELS)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    cells = load(args.corpus, args.labels)
    halves = {h: [c for c in cells if c["half"] == h] for h in "AB"}
    print(f"{len(cells)} labelled cells: " + ", ".join(
        f"half {h} {len(v)} ({sum(c['label'] == 'flat' for c in v)} flat)"
        for h, v in halves.items()))
    best, results = sweep(halves["A"])
    print("best on A (t, tone reference, noise factor):", best)
    print("top of the sweep on A:", [(round(a, 3), p) for a, p in results[:8]])
    default = (PATCH["flat_threshold"], flat.TONE_REFERENCE, flat.NOISE_FACTOR)
    print(f"library default {default}")
    print("\n| rule | agreement | precision (flat) | recall (flat) | tp / fn / fp / tn |")
    print("| --- | --- | --- | --- | --- |")
    for half, part in halves.items():
        print(summary(f"chosen on A, half {half}", score(part, lambda c: rule_flat(c, *best))))
        print(summary(f"default, half {half}", score(part, lambda c: rule_flat(c, *default))))
        print(summary(f"previous rule (E < 4), half {half}", score(part, old_flat)))
        print(summary(f"block std < 4, half {half}", score(part, std_flat)))
    print("\nMistakes of the default on half B:")
    for c in score(halves["B"], lambda c: rule_flat(c, *default))["wrong"]:
        print(f"- {c['label']}: {c['image']} x={c['x']} y={c['y']} ({c['category']}): "
              f"{c['note']}")
    dropped, total, reasons = textured_drops(cells)
    print(f"\nlabelled textured cells dropped by any cell gate (defaults): "
          f"{wilson(dropped, total)}; {dict(reasons)}")
    ms = cost_ms(cells)
    print(f"all cell figures: {ms:.2f} ms per 512x512 cell (one core, best of 3 over 40)")
    if not args.no_record:
        b = score(halves["B"], lambda c: rule_flat(c, *default))
        append_result("flat_calibration", f"{len(cells)} labelled cells "
                      f"({os.path.relpath(os.path.abspath(args.labels))})",
                      machine(), f"default {default}: half B agreement "
                      f"{wilson(b['agree'], b['n'])}; textured dropped {wilson(dropped, total)};"
                      f" cell figures {ms:.2f} ms/cell")
    return 0


if __name__ == "__main__":
    sys.exit(main())
