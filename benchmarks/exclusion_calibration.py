"""Exclusion matching: recall per transformation, false drops and cost per source.

    python benchmarks/exclusion_calibration.py --exclude ../shared/corpus/kodak24 \\
        --crops-from ../shared/corpus/photos ../shared/corpus/photos ../shared/corpus/urban100

- recall of copies: every image of --exclude, transformed (resized 0.25-2x,
  recompressed q50-95, grey, CMYK, mirrored, flipped), must match its own file;
- recall of crops: from each photo of --crops-from, a BSD-sized 481 x 321 crop at 1x
  and crops of 2x, 3x and 4x that size shrunk to it are excluded images; the photo
  must then contain each (the right file, a region over the crop);
- false drops: every image of the FOLDERS (none a copy of an excluded image) is
  matched against --exclude and the crops of the other photos: any match is false;
- cost: milliseconds per source of matching (ORB and lookup) against the inspection
  of the same source (its one full decode, figures and hashes), with the index
  grown to --scale synthetic excluded images as well.
Prints the figures and appends a row to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import functools
import io
import os
import sys
import time

import cv2
import numpy as np
import pyarrow as pa
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from image_files import decoded, image_paths
from record import append_result, machine

from irdata.demo import synth
from irdata.exclude import sets
from irdata.exclude.index import ExclusionIndex
from irdata.inspection import examine, examine_cells
from irdata.quality import working
from irdata.tuning import tune

CROP = (481, 321)  # a BSD image's size


def _jpeg(pixels: np.ndarray, quality: int = 90, mode: str = "RGB") -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).convert(mode).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _resize(pixels: np.ndarray, scale: float) -> np.ndarray:
    size = (max(1, round(pixels.shape[1] * scale)), max(1, round(pixels.shape[0] * scale)))
    return cv2.resize(pixels, size, interpolation=cv2.INTER_AREA if scale < 1 else
                      cv2.INTER_CUBIC)


def _resized_jpeg(pixels: np.ndarray, scale: float) -> bytes:
    return _jpeg(_resize(pixels, scale))


TRANSFORMS = {
    **{f"resized {s}x": functools.partial(_resized_jpeg, scale=s)
       for s in (0.25, 0.5, 0.75, 1.5, 2.0)},
    **{f"jpeg q{q}": functools.partial(_jpeg, quality=q) for q in (50, 75, 95)},
    "grey": lambda p: _jpeg(p, 90, "L"),
    "cmyk": lambda p: _jpeg(p, 90, "CMYK"),
    "mirrored": lambda p: _jpeg(np.ascontiguousarray(p[:, ::-1])),
    "flipped": lambda p: _jpeg(np.ascontiguousarray(p[::-1])),
}


def _find(index: ExclusionIndex, data: bytes):
    found, pixels = examine(data, 10**10, 1)
    return index.find(found.sha256, pixels, working.to_working(pixels), found.phash,
                      found.dhash)


def _png(pixels: np.ndarray) -> bytes:
    return synth.encode(pixels, "png")


def _crops(pixels: np.ndarray, rng: np.random.Generator) -> dict[str, tuple]:
    """name -> (crop pixels, box in the photo) for the 1x and 2x-4x crops."""
    found = {}
    height, width = pixels.shape[:2]
    for factor in (1, 2, 3, 4):
        w, h = CROP[0] * factor, CROP[1] * factor
        if w > width or h > height:
            continue
        x0, y0 = int(rng.integers(0, width - w + 1)), int(rng.integers(0, height - h + 1))
        region = pixels[y0:y0 + h, x0:x0 + w]
        crop = region if factor == 1 else cv2.resize(region, CROP, interpolation=cv2.INTER_AREA)
        found[f"crop {factor}x"] = (np.ascontiguousarray(crop), (x0, y0, x0 + w, y0 + h))
    return found


def _copies_recall(exclude: list[str]) -> dict[str, tuple[int, int]]:
    rows, images = [], []
    for path in exclude:
        got = decoded(path)
        if got:
            rows.append(sets.fingerprint_row("eval", os.path.basename(path), got[0]))
            images.append((os.path.basename(path), got[1]))
    index = ExclusionIndex(pa.Table.from_pylist(rows, schema=sets.SCHEMA))
    recall = {}
    for name, transform in TRANSFORMS.items():
        hits = sum(1 for file, pixels in images
                   if (m := _find(index, transform(pixels))) and m[0].file == file)
        recall[name] = (hits, len(images))
    return recall, index, rows


def _crop_recall(photos: list[str], seed: int = 0):
    rng = np.random.default_rng(seed)
    rows, truth = [], {}
    for path in photos:
        got = decoded(path)
        if not got:
            continue
        for kind, (crop, box) in _crops(got[1], rng).items():
            file = f"{os.path.basename(path)}:{kind}"
            rows.append(sets.fingerprint_row("crops", file, _png(crop)))
            truth[file] = (path, kind, box)
    index = ExclusionIndex(pa.Table.from_pylist(rows, schema=sets.SCHEMA))
    recall, wrong = {}, 0
    for path in photos:
        with open(path, "rb") as fh:
            matches = _find(index, fh.read())
        mine = {m.file: m for m in matches if truth[m.file][0] == path}
        wrong += sum(1 for m in matches if truth[m.file][0] != path)
        for file, (owner, kind, box) in truth.items():
            if owner != path:
                continue
            hit = file in mine and (mine[file].whole or _covers(mine[file].region, box))
            done, total = recall.get(kind, (0, 0))
            recall[kind] = (done + hit, total + 1)
    return recall, wrong, rows


def _covers(region, box) -> bool:
    """The found region overlaps at least 80% of the true box."""
    x0, y0 = max(region[0], box[0]), max(region[1], box[1])
    x1, y1 = min(region[2], box[2]), min(region[3], box[3])
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    return inter >= 0.8 * (box[2] - box[0]) * (box[3] - box[1])


def _false_drops(index: ExclusionIndex, sources: list[str]):
    dropped, seconds, inspect_seconds, count = [], 0.0, 0.0, 0
    for path in sources:
        with open(path, "rb") as fh:
            data = fh.read()
        started = time.perf_counter()
        found, pixels, _ = examine_cells(data, 10**10, 1)
        inspect_seconds += time.perf_counter() - started
        if pixels is None:
            continue
        work = working.to_working(pixels)
        started = time.perf_counter()
        matches = index.find(found.sha256, pixels, work, found.phash, found.dhash)
        seconds += time.perf_counter() - started
        count += 1
        if matches:
            dropped.append(f"{os.path.basename(path)}~{matches[0].file}({matches[0].kind})")
    return dropped, count, seconds, inspect_seconds


def _scaled_rows(count: int) -> list[dict]:
    return [sets.fingerprint_row("synthetic", f"s{n}.png",
                                 _png(synth.procedural_image(1000 + n, 640, 480)))
            for n in range(count)]


def _half(paths: list[str], half: str) -> list[str]:
    return paths if half == "all" else paths[half == "B"::2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", help="sources: none a copy of an excluded image")
    parser.add_argument("--exclude", required=True, help="folder of excluded images")
    parser.add_argument("--crops-from", required=True, help="folder of large photos")
    parser.add_argument("--scale", type=int, default=500,
                        help="synthetic excluded images added for the cost figure")
    parser.add_argument("--half", choices=("A", "B", "all"), default="all",
                        help="every other photo and source (A: even, B: odd positions): "
                             "choose thresholds on one half, report on the other")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    tune()
    exclude, photos = image_paths([args.exclude]), _half(image_paths([args.crops_from]), args.half)
    copies, _, exclude_rows = _copies_recall(exclude)
    crops, wrong, crop_rows = _crop_recall(photos)
    sources = _half(image_paths(args.folders), args.half)
    index = ExclusionIndex(pa.Table.from_pylist(exclude_rows, schema=sets.SCHEMA))
    dropped, count, seconds, inspect_seconds = _false_drops(index, sources)
    started = time.perf_counter()
    big = ExclusionIndex(pa.Table.from_pylist(exclude_rows + crop_rows + _scaled_rows(args.scale),
                                              schema=sets.SCHEMA))
    build_seconds = time.perf_counter() - started
    big_dropped, _, big_seconds, _ = _false_drops(big, sources)
    big_dropped = [d for d in big_dropped if "crop" not in d]  # a photo contains its own crops
    lines = [f"copies of {len(exclude)} excluded images:"]
    lines += [f"  {name:14s} {hit}/{total}" for name, (hit, total) in copies.items()]
    lines.append(f"crops of {len(photos)} photos ({CROP[0]}x{CROP[1]}):")
    lines += [f"  {name:14s} {hit}/{total}" for name, (hit, total) in sorted(crops.items())]
    lines.append(f"  matched another photo's crop: {wrong}")
    lines.append(f"false drops: {len(dropped)}/{count} against {len(exclude)} excluded images "
                 f"{dropped}; {len(big_dropped)}/{count} against {len(big.rows)} "
                 f"{big_dropped}")
    lines.append(f"cost per source: {1000 * seconds / count:.1f} ms against {len(exclude)} "
                 f"({100 * seconds / inspect_seconds:.1f}% of inspection's "
                 f"{1000 * inspect_seconds / count:.0f} ms), {1000 * big_seconds / count:.1f} ms "
                 f"against {len(big.rows)} (index built in {build_seconds:.1f} s)")
    print("\n".join(lines))
    if not args.no_record:
        result = "; ".join(line.strip() for line in lines)
        print(append_result("exclusion_calibration",
                            f"half {args.half}: exclude {args.exclude}, crops from "
                            f"{args.crops_from}, sources {' '.join(args.folders)}",
                            f"one thread, {machine()}", result))


if __name__ == "__main__":
    main()
