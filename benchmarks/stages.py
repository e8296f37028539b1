"""Per-item cost of every piece of the build and of training, in one table.

    python benchmarks/stages.py PHOTO [--shards DIR] [--model-iters 2] [--skip-model]

PHOTO: a real photo (a 512x512 patch is cut from its centre; the whole photo is
decoded and inspected). One thread, median of repeated runs:
- per photo: full decode (irdata's rule), the working-resolution figures
  (graphics, exposure) + pHash/dHash, the figures of every cell, the whole
  inspection (which includes them);
- per 512x512 patch: all per-cell figures together (irdata.patching.figures),
  then each alone, flat detection, PNG encode (irdata's default, ISA-L; and
  OpenCV level 1 RLE "up"), sha256, pHash (of the patch, as if patches were
  deduplicated; irdata hashes sources), every degradation kind at its default
  ranges (degrade_cost.measure);
- loader samples/s per worker from `--shards` (benchmarks/loader.py), if given;
- DyNet-S / DyNet-L forward+backward ms per iteration, batch 2, 128x128
  (benchmarks/model_speed.py), on CUDA when available, else the CPU.
Appends one row to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from degrade_cost import measure as degrade_ms
from degrade_cost import patch as centre_patch
from record import append_result, machine

from irdata import tuning
from irdata.config import validate
from irdata.degrade import KINDS, to_uint8
from irdata.imaging import hashing
from irdata.imaging.decode import decode_rgb
from irdata.imaging.encode import encode_png
from irdata.imaging.sniff import sniff
from irdata.inspection import inspect_bytes, measure_cells
from irdata.patching import figures
from irdata.patching.flat import flat_blocks, flat_fraction, luminance
from irdata.quality import exposure, gates, periodic, spectrum, working
from irdata.quality.noise import cell_noise


def median_ms(function, runs: int) -> float:
    function()  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def hashes_of(thumb) -> tuple[str, str]:
    """Both hashes from one thumbnail, as inspection computes them."""
    return hashing.phash(thumb), hashing.dhash(thumb)


def read_photo(path: str) -> tuple[bytes, str, object]:
    """PHOTO's bytes, format and pixels; a clear exit when it cannot be used."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
        fmt, problem = sniff(data)
        if problem:
            raise ValueError(problem)
        return data, fmt, decode_rgb(data, fmt)
    except Exception as exc:
        raise SystemExit(f"stages.py: cannot use {path}: {exc}") from None


def photo_costs(path: str, runs: int) -> dict:
    data, fmt, pixels = read_photo(path)
    work = working.to_working(pixels)
    settings = validate({"sources": [{"name": "x", "dir": os.path.dirname(path)}]}, "", ".")
    cells = measure_cells(pixels, settings["patch"])
    return {
        "decode": median_ms(lambda: decode_rgb(data, fmt), runs),
        "working resize": median_ms(lambda: working.to_working(pixels), runs),
        "working-resolution figures": median_ms(lambda: gates.measure(work, [], 90), runs),
        f"figures of all {len(cells)} cells": median_ms(
            lambda: measure_cells(pixels, settings["patch"]), runs),
        "pHash + dHash": median_ms(lambda: hashes_of(hashing.thumbnail(work)), runs),
        "whole inspection": median_ms(lambda: inspect_bytes(data, 300_000_000, 512,
                                                            settings["quality"]), runs),
    }, pixels.shape


def patch_costs(path: str, runs: int) -> dict:
    image = centre_patch(path)
    rgb = to_uint8(image)
    png = encode_png(rgb)
    lum = luminance(rgb)
    grey = lum.astype("float32")
    costs = {"all cell figures": median_ms(lambda: figures.measure(rgb, 16, 4.0), runs * 5),
             "  noise": median_ms(lambda: cell_noise(lum), runs * 5),
             "  flat blocks": median_ms(lambda: flat_blocks(lum, 16, 4.0, 0.5), runs * 5),
             "  spectra + sharpness": median_ms(lambda: spectrum.sharpness(
                 spectrum.axis_spectra(grey), 0.5), runs * 5),
             "  profiles, periodicity, blockiness": median_ms(lambda: (
                 periodic.periodicity(periodic.profiles(lum)),
                 periodic.blockiness(periodic.profiles(lum))), runs * 5),
             "  clipped + crushed": median_ms(lambda: (exposure.clipped(rgb, 2),
                                                       exposure.crushed(rgb, 2)), runs * 5),
             "flat fraction (alone)": median_ms(lambda: flat_fraction(rgb), runs * 5),
             "PNG encode": median_ms(lambda: encode_png(rgb), runs * 5),
             "PNG encode, OpenCV level 1 RLE up": median_ms(
                 lambda: encode_png(rgb, encoder="opencv"), runs * 5),
             "sha256 of the PNG": median_ms(lambda: hashlib.sha256(png).digest(), runs * 5),
             # irdata hashes each source (above), not its patches; this is the same
             # pHash on a 512x512 patch, for comparison with per-patch dedupe
             "pHash": median_ms(lambda: hashing.phash(hashing.thumbnail(rgb)), runs * 5)}
    for name in KINDS:
        costs[f"degrade {name}"] = degrade_ms(image, name, draws=10, repeat=3)["median"]
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photo")
    parser.add_argument("--shards", help="patch shards for the loader figure")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--model-iters", type=int, default=2)
    parser.add_argument("--skip-model", action="store_true")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    tuning.tune()  # as on a build worker
    per_photo, shape = photo_costs(args.photo, args.runs)
    per_patch = patch_costs(args.photo, args.runs)
    lines = [f"per photo ({shape[1]}x{shape[0]}, {shape[0] * shape[1] / 1e6:.1f} MP):"]
    lines += [f"  {k:<26} {v:8.1f} ms" for k, v in per_photo.items()]
    lines += ["per 512x512 patch:"] + [f"  {k:<26} {v:8.2f} ms" for k, v in per_patch.items()]
    extra = []
    if args.shards:
        from loader import samples_per_second

        rate = samples_per_second(args.shards, 1, 128, 8, 30, {"name": "dynet_pretrain"})
        lines.append(f"loader, 1 worker: {rate:.1f} samples/s (crop 128, pre-training policy)")
        extra.append(f"loader {rate:.0f} samples/s per worker")
    if not args.skip_model:
        import torch
        from model_speed import seconds_per_iteration

        from irdata.train.models.dynet import DyNet

        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        model = DyNet().to(device).train()
        speed = seconds_per_iteration(model, 2, 128, args.model_iters, device)
        where = "CUDA" if device.type == "cuda" else f"CPU {torch.get_num_threads()} threads"
        lines.append(f"DyNet fwd+bwd, batch 2, 128x128, {where}: S {speed['S'] * 1e3:.0f} ms, "
                     f"L {speed['L'] * 1e3:.0f} ms")
        extra.append(f"DyNet-S {speed['S'] * 1e3:.0f} ms / DyNet-L {speed['L'] * 1e3:.0f} ms "
                     f"per iteration ({where})")
    print("\n".join(lines))
    result = ("; ".join(f"{k} {v:.1f} ms" for k, v in per_photo.items()) + "; per patch: "
              + "; ".join(f"{k} {v:.2f} ms" for k, v in per_patch.items())
              + ("; " + "; ".join(extra) if extra else ""))
    if not args.no_record:
        print(append_result("stages (one thread)", os.path.basename(args.photo),
                            f"tuned worker process, {machine()}", result))


if __name__ == "__main__":
    sys.exit(main())
