"""Calibrate the source and per-cell quality gates on one half of the photos and
report them on the other half, which the thresholds never saw.

    python benchmarks/quality_calibration.py FOLDER [FOLDER ...] [--kinds CSV]
        [--cache FILE] [--workers N] [--no-record]

Every image of the FOLDERs is a clean real photo, except those the `--kinds` CSV
(columns image, kind; image as FOLDERNAME/FILE) labels render, graphics or mixed:
those join the synthetic graphics as "not a photo". Each photo becomes the
degraded set of benchmarks/calibration_set.py (at native resolution). Every item
goes through inspection exactly as in the fetch stage (one full decode, the
working-resolution figures, every cell's figures at native resolution) with the
gates off; the figures are cached (`--cache`, default
.cache/quality_calibration.pkl), so choosing and reporting are cheap to rerun.

Photos are split in two halves by sha256 of their name: half A chooses every
threshold (as far from the most extreme clean photo of A as MARGIN says), half
B reports precision, recall, clean drops and, per degraded kind, the share of
items still giving patches ("kept": source passes and at least one cell is
kept), with Wilson 95% intervals. Appends a row to BENCHMARKS.md unless
--no-record and prints the Markdown tables of irdata/quality/CALIBRATION.md.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import math
import multiprocessing
import os
import pickle
import sys
from collections import Counter, defaultdict

import numpy as np

from irdata import config as config_mod
from irdata.dedupe import clusters
from irdata.inspection import examine_cells
from irdata.patching import figures as cell_figures
from irdata.quality import gates

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import calibration_set
from image_files import decoded, image_paths
from record import append_result, machine

QUALITY = {name: spec.default for name, spec in config_mod.QUALITY.items()}
PATCH = {name: spec.default for name, spec in config_mod.PATCH.items()}
NOT_PHOTO = {"render", "graphics", "mixed"}
# Distance kept between a threshold and the most extreme clean item of half A:
# the larger of a share of the value and an absolute step, per figure.
MARGIN = {"sharpness": (0.2, 2.0), "noise": (0.15, 0.3), "periodicity": (0.15, 0.3),
          "blockiness": (0.1, 0.1), "clipped": (0.0, 0.1), "crushed": (0.0, 0.1)}
# "Heavy" clipping or crushing: at least this share, whatever half A's photos hold
# (a white sky or a black night is a scene; 60% of the frame without detail a defect).
HEAVY_SHARE = 0.6
# Which labels each source gate is meant to catch.
CATCHES = {"low_jpeg_quality": {"low_jpeg_quality"}, "graphics": {"graphics"},
           "upscaled": {"upscaled"}, "blurry": {"blurry", "upscaled"}, "noisy": {"noisy"},
           "clipped": {"exposure"}, "crushed": {"exposure"}}


# -- the measured set ------------------------------------------------------------------

def half_of(name: str) -> str:
    return "A" if int(hashlib.sha256(name.encode()).hexdigest(), 16) % 2 == 0 else "B"


def _measure(label: str, variant: str, source: str, kind: str, data: bytes) -> dict:
    found, _, cells = examine_cells(data, 10**9, 1, None, PATCH)
    return {"label": label, "variant": variant, "source": source, "kind": kind,
            "half": half_of(source), "status": found.status, "reason": found.reason,
            **{name: getattr(found, name) for name in gates.FIGURES},
            "pixels": (found.width or 0) * (found.height or 0), "bytes": found.bytes,
            "cells": [figures for _, _, figures in cells or []]}


def _photo_items(job: tuple[str, str, int]) -> list[dict]:
    path, kind, seed = job
    found = decoded(path)
    if found is None:
        return []
    data, rgb = found
    name = f"{os.path.basename(os.path.dirname(path))}/{os.path.basename(path)}"
    label = "clean" if kind not in NOT_PHOTO else "graphics"
    rows = [_measure(label, "original", name, kind, data)]
    if label == "clean":
        rng = np.random.default_rng(seed)
        rows += [_measure(lab, variant, name, kind, item)
                 for lab, variant, item in calibration_set.variants(rgb, rng)]
    print(f"  {name}: {len(rows)} items", file=sys.stderr, flush=True)
    return rows


def _graphics_items(seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    photo = np.random.default_rng(1).integers(0, 256, (600, 800, 3), dtype=np.uint8)
    return [_measure(label, variant, f"synthetic/{variant}_{i}", "graphics", data)
            for i, (label, variant, _, data) in
            enumerate(calibration_set.graphics_items(rng, [photo]))]


def kinds_of(path: str | None) -> dict[str, str]:
    if not path:
        return {}
    with open(path, newline="", encoding="utf-8") as fh:
        return {row["image"]: row["kind"] for row in csv.DictReader(fh)}


def measure_all(folders: list[str], kinds: dict, workers: int) -> list[dict]:
    paths = image_paths(folders)
    jobs = [(p, kinds.get(f"{os.path.basename(os.path.dirname(p))}/{os.path.basename(p)}",
                          "photo"), i) for i, p in enumerate(paths)]
    with multiprocessing.Pool(workers) as pool:
        rows = [row for found in pool.imap(_photo_items, jobs) for row in found]
    return rows + _graphics_items(0)


def load_or_measure(args) -> list[dict]:
    if os.path.exists(args.cache):
        with open(args.cache, "rb") as fh:
            return pickle.load(fh)
    rows = measure_all(args.folders, kinds_of(args.kinds), args.workers)
    os.makedirs(os.path.dirname(os.path.abspath(args.cache)), exist_ok=True)
    with open(args.cache, "wb") as fh:
        pickle.dump(rows, fh)
    return rows


# -- choosing thresholds on half A ---------------------------------------------------------

def _margin(figure: str, value: float) -> float:
    share, step = MARGIN[figure]
    return max(share * abs(value), step)


def _edge(values, figure: str, direction: str) -> float | None:
    """A threshold beyond the most extreme value, by the figure's margin."""
    found = [v for v in values if v is not None]
    if not found:
        return None
    if direction == "below":
        return min(found) - _margin(figure, min(found))
    return max(found) + _margin(figure, max(found))


def _clean(rows, half):
    return [r for r in rows if r["label"] == "clean" and r["half"] == half]


def _pair(rows, half: str, figure: str, targets, floor: float) -> tuple[float, float]:
    """(sharpness limit, `figure` limit) with the best recall of `targets` variants on
    `half` for "figure above its limit and sharpness below its limit", with the
    figure's limit past every clean item of `half` that is softer than the sharpness
    limit (by the margin); no limit under `floor`."""
    clean = _clean(rows, half)
    aimed = [r for r in rows if r["half"] == half and r["variant"] in targets]
    best = (-1.0, 0.0, 0.0)
    for sharp in np.arange(-16.0, -3.0, 1.0):
        soft = [r[figure] for r in clean if r["sharpness"] is not None
                and r["sharpness"] < sharp + _margin("sharpness", sharp)]
        limit = max(floor, _edge(soft, figure, "above") if soft else floor)
        caught = np.mean([r[figure] is not None and r["sharpness"] is not None
                          and r[figure] > limit and r["sharpness"] < sharp for r in aimed])
        if caught > best[0]:
            best = (caught, float(sharp), round(float(limit), 2))
    return best[1], best[2]


def _graphics_settings(rows, half: str, quality: dict) -> tuple[float, float]:
    """(graphics_palette_share, graphics_min_sharpness) on `half`: the palette share
    past every clean photo with as many one-colour blocks as graphics (by 0.05, and
    no lower than the library default); the sharpness below every graphic those
    shares catch (drawn edges are hard), by the margin."""
    clean = [r for r in _clean(rows, half) if (r["flat_share"] or 0) > quality[
        "graphics_flat_share"]]
    palette = max([QUALITY["graphics_palette_share"]]
                  + [(r["palette_share"] or 0) + 0.05 for r in clean])
    caught = [r["sharpness"] for r in rows if r["label"] == "graphics" and r["half"] == half
              and (r["flat_share"] or 0) > quality["graphics_flat_share"]
              and (r["palette_share"] or 0) > palette and r["sharpness"] is not None]
    sharp = _edge(caught, "sharpness", "below") if caught else QUALITY["graphics_min_sharpness"]
    return round(palette, 2), round(sharp, 1)


def _cells(rows, label="clean", half="A", textured=True):
    return [c for r in rows if r["label"] == label and r["half"] == half for c in r["cells"]
            if not textured or c.flat_fraction <= PATCH["max_flat_fraction"]]


def _cell_edge(cells, figure: str, direction: str, share: float = 0.001) -> float:
    """Past the `share` most extreme clean textured cells of half A (0: all), by the
    margin."""
    values = np.array([getattr(c, figure) for c in cells if getattr(c, figure) is not None])
    if direction == "below":
        value = float(np.quantile(values, share))
        return round(value - _margin(figure, value), 2)
    value = float(np.quantile(values, 1 - share))
    return round(value + _margin(figure, value), 2)


def choose(rows: list[dict]) -> tuple[dict, dict]:
    """(quality settings, patch settings) chosen on half A."""
    clean = _clean(rows, "A")
    quality = dict(QUALITY)
    quality["min_sharpness"] = round(_edge([r["sharpness"] for r in clean], "sharpness",
                                           "below"), 1)
    quality["max_noise"] = round(_edge([r["noise"] for r in clean], "noise", "above"), 2)
    for figure in ("clipped", "crushed"):
        edge = _edge([r[figure] for r in clean], figure, "above")
        quality[f"max_{figure}"] = round(min(1.0, max(edge, HEAVY_SHARE)), 2)
    upscales = {name for name, _, _ in calibration_set.UPSCALES}
    quality["upscale_sharpness"], quality["upscale_periodicity"] = _pair(
        rows, "A", "periodicity", upscales, 1.5)
    quality["graphics_palette_share"], quality["graphics_min_sharpness"] = \
        _graphics_settings(rows, "A", quality)
    cells = _cells(rows)
    patch = dict(PATCH)
    patch["min_sharpness"] = _cell_edge(cells, "sharpness", "below")
    # past every clean textured cell of A: a cell covered by fine texture reads it as
    # noise (or a faint grid), and a drop there loses real texture
    patch["max_noise"] = _cell_edge(cells, "noise", "above", share=0.0)
    patch["max_blockiness"] = _cell_edge(cells, "blockiness", "above", share=0.0)
    return quality, patch


# -- reporting ---------------------------------------------------------------------------------

def wilson(hits: int, total: int) -> str:
    """hits / total with its Wilson 95% interval."""
    if total == 0:
        return "-"
    z, p = 1.96, hits / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    spread = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total))
    spread /= 1 + z * z / total
    low, high = max(0.0, centre - spread), min(1.0, centre + spread)
    return f"{hits}/{total} = {p:.3f} [{low:.3f}, {high:.3f}]"


def verdict(row: dict, quality: dict, patch: dict) -> tuple[str, int]:
    """(source reason, kept cells) of one item under the settings."""
    reason = gates.judge(row, quality)[0]
    kept = 0 if reason else sum(not cell_figures.judge(c, patch) for c in row["cells"])
    return reason, kept


def kept_table(rows, quality, patch) -> list[str]:
    out = ["| label | variant | kept A | kept B | source reasons (B) | cell reasons (B) |",
           "| --- | --- | --- | --- | --- | --- |"]
    groups = defaultdict(list)
    for row in rows:
        groups[(row["label"], row["variant"])].append(row)
    for (label, variant), items in sorted(groups.items()):
        cells = {"A": [0, 0], "B": [0, 0]}
        reasons, cell_reasons = Counter(), Counter()
        for row in items:
            reason, kept = verdict(row, quality, patch)
            cells[row["half"]][0] += kept > 0
            cells[row["half"]][1] += 1
            if row["half"] == "B":
                reasons[reason or "pass"] += 1
                if not reason:
                    cell_reasons.update(cell_figures.judge(c, patch) or "kept"
                                        for c in row["cells"])
        out.append(f"| {label} | {variant} | {wilson(*cells['A'])} | {wilson(*cells['B'])} | "
                   f"{_counts(reasons)} | {_counts(cell_reasons)} |")
    return out


def _counts(counter: Counter) -> str:
    return ", ".join(f"{k} {v}" for k, v in counter.most_common())


def gate_table(rows, quality) -> list[str]:
    out = ["| gate | half | precision | recall (its labels) | clean drops |",
           "| --- | --- | --- | --- | --- |"]
    for reason, labels in CATCHES.items():
        for half in "AB":
            part = [r for r in rows if r["half"] == half or r["kind"] == "graphics"]
            fails = [r for r in part if reason in [x for x, _ in gates.failures(r, quality)]]
            true = [r for r in fails if r["label"] in labels]
            target = [r for r in part if r["label"] in labels]
            clean = [r for r in part if r["label"] == "clean"]
            clean_fails = [r for r in fails if r["label"] == "clean"]
            out.append(f"| {reason} | {half} | {wilson(len(true), len(fails))} | "
                       f"{wilson(len(true), len(target))} | "
                       f"{wilson(len(clean_fails), len(clean))} |")
    return out


def _in_scope(row: dict, figure: str, quality: dict) -> bool:
    """Whether a clean item could fail this figure's gate at all (its other figure
    of a two-figure gate already past its limit)."""
    if figure == "periodicity":
        return row["sharpness"] is not None and row["sharpness"] < quality["upscale_sharpness"]
    if figure == "palette_share":
        return (row["flat_share"] or 0) > quality["graphics_flat_share"]
    return True


def closest_clean(rows, quality) -> list[str]:
    """Per half and gated figure, the clean item nearest its threshold and how near (%)."""
    rules = {"sharpness": ("min_sharpness", "below"), "noise": ("max_noise", "above"),
             "clipped": ("max_clipped", "above"), "crushed": ("max_crushed", "above"),
             "periodicity": ("upscale_periodicity", "above"),
             "palette_share": ("graphics_palette_share", "above")}
    out = ["| figure | threshold | half | nearest clean item | value | distance |",
           "| --- | --- | --- | --- | --- | --- |"]
    for figure, (key, direction) in rules.items():
        for half in "AB":
            found = [(r[figure], r) for r in _clean(rows, half) if r[figure] is not None
                     and _in_scope(r, figure, quality)]
            if not found:
                out.append(f"| {figure} | {quality[key]:g} | {half} | none in scope | | |")
                continue
            value, row = (min if direction == "below" else max)(found, key=lambda v: v[0])
            gap = abs(value - quality[key]) / max(abs(quality[key]), 1e-9)
            out.append(f"| {figure} | {quality[key]:g} | {half} | {row['source']} "
                       f"({row['variant']}) | {value:g} | {gap:.0%} |")
    return out


def cell_table(rows, patch) -> list[str]:
    out = ["| half | clean textured cells dropped | by reason |", "| --- | --- | --- |"]
    for half in "AB":
        cells = _cells(rows, half=half)
        reasons = Counter(cell_figures.judge(c, patch) for c in cells)
        dropped = sum(v for k, v in reasons.items() if k)
        out.append(f"| {half} | {wilson(dropped, len(cells))} | "
                   f"{_counts(Counter({k: v for k, v in reasons.items() if k}))} |")
    return out


def no_patch_photos(rows, quality, patch) -> list[str]:
    """Clean originals that pass but give no kept patch, with their cells' reasons."""
    out = []
    for row in rows:
        if row["label"] == "clean" and row["variant"] == "original":
            reason, kept = verdict(row, quality, patch)
            if not kept:
                why = reason or _counts(Counter(cell_figures.judge(c, patch)
                                                for c in row["cells"]))
                out.append(f"- {row['source']} (half {row['half']}): {why}")
    return out


def keeper_table(rows, quality) -> list[str]:
    """Per half: photos whose duplicate cluster (the original, its clean copies and
    every degraded copy that passes the source gates) keeps a clean copy."""
    out = ["| half | clean copy kept as keeper | degraded keepers |", "| --- | --- | --- |"]
    groups = defaultdict(list)
    for row in rows:
        if row["kind"] != "graphics" and row["label"] != "graphics" and row["pixels"] \
                and not gates.judge(row, quality)[0]:
            groups[row["source"]].append(row)
    for half in "AB":
        hits, total, losers = 0, 0, Counter()
        for source, group in groups.items():
            if half_of(source) != half or not any(r["label"] == "clean" for r in group):
                continue
            cost = clusters.costs(
                np.array([r["pixels"] for r in group]), np.array([r["bytes"] for r in group]),
                [gates.is_upscaled(r, quality) for r in group], [r["noise"] for r in group],
                [r["jpeg_quality"] for r in group], [r["sharpness"] for r in group],
                [(r["clipped"] or 0) + (r["crushed"] or 0) for r in group],
                [r["tonal_range"] for r in group])
            keeper, _ = clusters.choose(np.zeros(len(group), dtype=np.int64), cost)
            best = group[int(keeper[0])]
            total += 1
            hits += best["label"] == "clean"
            if best["label"] != "clean":
                losers[best["variant"]] += 1
        out.append(f"| {half} | {wilson(hits, total)} | {_counts(losers) or '-'} |")
    return out


def settings_lines(quality, patch) -> list[str]:
    keys = ("min_sharpness", "max_noise", "max_clipped", "max_crushed", "upscale_sharpness",
            "upscale_periodicity", "graphics_palette_share", "graphics_min_sharpness")
    cell_keys = ("min_sharpness", "max_noise", "max_blockiness", "max_clipped", "max_crushed")
    return ([f"quality.{k}: {quality[k]:g} (library default {QUALITY[k]:g})" for k in keys]
            + [f"patch.{k}: {patch[k]:g} (library default {PATCH[k]:g})" for k in cell_keys])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+")
    parser.add_argument("--kinds", help="CSV of image,kind (render/graphics/mixed: not photos)")
    parser.add_argument("--cache", default=".cache/quality_calibration.pkl")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--defaults", action="store_true",
                        help="report the library defaults instead of choosing on half A")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args(argv)
    rows = load_or_measure(args)
    photos = {r["source"] for r in rows if r["label"] == "clean"}
    halves = Counter(half_of(p) for p in photos)
    print(f"{len(rows)} items from {len(photos)} photos (A {halves['A']}, B {halves['B']})")
    chosen = choose(rows)
    print("\n## Chosen on half A\n" + "\n".join(settings_lines(*chosen)))
    quality, patch = (QUALITY, PATCH) if args.defaults else chosen
    print("\n## Source gates\n" + "\n".join(gate_table(rows, quality)))
    print("\n## Nearest clean items\n" + "\n".join(closest_clean(rows, quality)))
    print("\n## Clean textured cells\n" + "\n".join(cell_table(rows, patch)))
    print("\n## Kept (source passes, >= 1 cell kept)\n" + "\n".join(kept_table(rows, quality,
                                                                             patch)))
    print("\n## Keepers\n" + "\n".join(keeper_table(rows, quality)))
    print("\n## Clean originals without a kept patch\n"
          + "\n".join(no_patch_photos(rows, quality, patch)))
    if not args.no_record:
        clean_b = _clean(rows, "B")
        giving = sum(verdict(r, quality, patch)[1] > 0 for r in clean_b)
        dropped = sum(bool(gates.judge(r, quality)[0]) for r in clean_b)
        append_result("quality_calibration", f"{len(photos)} photos, {len(rows)} items",
                      machine(), f"clean items of half B dropped at source "
                      f"{wilson(dropped, len(clean_b))}, giving patches "
                      f"{wilson(giving, len(clean_b))}; "
                      + "; ".join(settings_lines(quality, patch)[:8]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
