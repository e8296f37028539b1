"""Curation speed against the physical floor and against a naive loop.

    python benchmarks/curation.py ../shared/corpus/photos [--workers 2] [--repeat 3]
                                  [--shapes processes threads] [--naive-images N]
                                  [--per-partition N] [--variants K] [--out s3://bucket/x]

In one run, on the same cores:
- irdata: DIR's photos served from 127.0.0.1, `irdata build` (fetch -> dedupe ->
  patch -> manifest) on a LocalCluster of `--workers` task slots, as worker
  processes ("processes") and as threads of one worker process ("threads");
  kept patches per second of the stages (plan and cluster start-up excluded)
  and of the whole wall time (included);
- the floor: every source decoded once (OpenCV, the files already in memory)
  and every patch the build kept encoded once with the fastest lossless PNG
  setting of OpenCV (level 1, RLE strategy, "up" row filter; also with libpng's
  default adaptive filter, the setting the issue names), on `--workers` threads
  (OpenCV releases the GIL), no I/O; and the same with irdata's own PNG encoder
  (ISA-L deflate, `patch.png_encoder: isal`, the default), the fastest PNG
  encoder measured here, so the gain from the encoder and from the rest of the
  build can be told apart;
- naive: Pillow open -> crop every top-left-grid cell -> save as PNG with
  Pillow's defaults, one process, what a user would write first.
`--variants K` adds K - 1 transposed copies of every photo (distinct images, the
same content): a larger corpus, to see the steady state that short runs hide.
`--out URL` also builds into that store (s3://...; endpoint and credentials from
the environment) in every round, with the first shape, and reports its kept
patches/s against the local folder's in the same rounds.
Rounds interleave builds and floors (best of `--repeat` each), so both see the
same state of a shared machine. Prints the table and the ratios irdata/floor and
irdata/naive; appends a row.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import shutil
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote, unquote, urlsplit

import cv2
import numpy as np
import pyarrow.parquet as pq
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from image_files import image_files
from record import append_result, machine

from irdata import config as config_mod
from irdata.build.runner import SHAPES, run_build
from irdata.demo.serve import LoopbackServer
from irdata.imaging.encode import PNG_FILTERS
from irdata.imaging.png_writer import write_png
from irdata.storage import Output

SIZE = 512
STAGES = ["fetch", "dedupe", "patch", "manifest"]
STORE = "store"  # the build into --out


def _pipeline(work: str, base_url: str, names: list[str], per_partition: int) -> dict:
    url_list = os.path.join(work, "urls.csv")
    with open(url_list, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["url"])
        writer.writerows([[f"{base_url}/{quote(name)}"] for name in names])
    return config_mod.validate({"sources": [{"name": "bench", "urls": url_list}],
                                "images_per_partition": per_partition,
                                "fetch": {"allow_private_networks": True}}, "bench", work)


def run_irdata(folder: str, workers: int, shape: str, per_partition: int,
               out_root: str | None = None) -> dict:
    """One build (into `out_root`, e.g. s3://..., else a temp folder); its rates and
    the kept patches as {file name: [(y, x), ...]}."""
    names = image_files(folder)
    work = tempfile.mkdtemp(prefix="irdata-curation-")
    try:
        with LoopbackServer(folder) as server:
            config = _pipeline(work, server.url, names, per_partition)
            out = out_root or os.path.join(work, "out")
            started = time.perf_counter()
            results = run_build(config, out, STAGES, workers=workers, quiet=True, shape=shape)
            wall = time.perf_counter() - started
        stage_seconds = sum(r["seconds"] for r in results.values())
        kept = _kept_cells(out)
        count = sum(len(v) for v in kept.values())
        peak = max((s.get("worker_peak_rss_mb") or 0) for r in results.values()
                   for s in r["stats"])
        return {"shape": shape, "patches": count, "stage_seconds": stage_seconds,
                "wall": wall, "per_s": count / stage_seconds, "wall_per_s": count / wall,
                "kept": kept, "peak_rss_mb": peak,
                "by_stage": {n: round(r["seconds"], 2) for n, r in results.items()}}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _kept_cells(root: str) -> dict[str, list[tuple[int, int]]]:
    out = Output(root)
    images = pq.read_table(out.path("manifest", "images.parquet"), filesystem=out.fs,
                           columns=["image_id", "locator"]).to_pylist()
    name_of = {r["image_id"]: unquote(urlsplit(r["locator"]).path).lstrip("/")
               for r in images}
    patches = pq.read_table(out.path("manifest", "patches.parquet"), filesystem=out.fs,
                            columns=["image_id", "x", "y", "kept"]).to_pylist()
    kept: dict[str, list[tuple[int, int]]] = {}
    for row in patches:
        if row["kept"]:
            kept.setdefault(name_of[row["image_id"]], []).append((row["y"], row["x"]))
    return kept


# The floor's encoders: OpenCV's fastest setting, libpng's adaptive filter, ISA-L.
FLOORS = ("opencv up", "opencv adaptive", "isal")


def _opencv_encoder(png_filter: str):
    params = [cv2.IMWRITE_PNG_COMPRESSION, 1,
              cv2.IMWRITE_PNG_STRATEGY, cv2.IMWRITE_PNG_STRATEGY_RLE,
              cv2.IMWRITE_PNG_FILTER, PNG_FILTERS[png_filter]]

    def encode(bgr: np.ndarray) -> None:
        ok, _ = cv2.imencode(".png", bgr, params)
        assert ok
    return encode


def _floor_one(data: bytes, cells: list[tuple[int, int]], floor: str) -> int:
    rgb = floor == "isal"  # irdata's writer takes RGB: libjpeg-turbo writes it directly
    image = cv2.imdecode(np.frombuffer(data, np.uint8),
                         cv2.IMREAD_COLOR_RGB if rgb else cv2.IMREAD_COLOR)
    if image is None:  # unreadable: irdata dropped it, so it has no cells
        return 0
    if rgb:
        encode = write_png
    else:
        encode = _opencv_encoder(floor.split()[1])
    for y, x in cells:
        encode(image[y:y + SIZE, x:x + SIZE])
    return len(cells)


def run_floor(folder: str, kept: dict, threads: int, floor: str) -> dict:
    """Decode every source once + encode every kept patch once, on `threads` threads."""
    blobs = {name: open(os.path.join(folder, name), "rb").read() for name in image_files(folder)}
    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        count = sum(pool.map(lambda name: _floor_one(blobs[name], kept.get(name, []), floor),
                             sorted(blobs)))
    seconds = time.perf_counter() - started
    return {"patches": count, "seconds": seconds, "per_s": count / seconds}


def _naive_one(path: str) -> int:
    with Image.open(path) as image:
        image = image.convert("RGB")
        count = 0
        for y in range(0, image.height - SIZE + 1, SIZE):
            for x in range(0, image.width - SIZE + 1, SIZE):
                image.crop((x, y, x + SIZE, y + SIZE)).save(io.BytesIO(), "PNG")
                count += 1
        return count


def run_naive(folder: str, images: int | None) -> dict:
    """Pillow open -> crop -> save (defaults), every top-left grid cell, one process;
    a file Pillow cannot read is counted and skipped (time spent on it included)."""
    count, unreadable, started = 0, 0, time.perf_counter()
    for name in image_files(folder)[:images]:
        try:
            count += _naive_one(os.path.join(folder, name))
        except Exception:  # truncated, not an image, a decompression bomb, ...
            unreadable += 1
    seconds = time.perf_counter() - started
    return {"patches": count, "seconds": seconds, "per_s": count / seconds if count else 0.0,
            "unreadable": unreadable}


VARIANTS = {"mirrored": Image.Transpose.FLIP_LEFT_RIGHT,
            "flipped": Image.Transpose.FLIP_TOP_BOTTOM,
            "turned": Image.Transpose.ROTATE_180}


def scaled_folder(folder: str, variants: int, into: str) -> str:
    """DIR's photos plus `variants` - 1 transposed copies of each (mirrored, flipped,
    turned 180 degrees; re-encoded as JPEG q95 / PNG): distinct images for dedupe
    (their pHashes differ by ~half the bits), the same content and sizes, so a
    larger corpus runs in steady state (partitions amortise their fixed costs)."""
    from PIL import ImageOps

    for name in image_files(folder):
        stem, ext = os.path.splitext(name)
        os.makedirs(os.path.dirname(os.path.join(into, name)), exist_ok=True)
        shutil.copy(os.path.join(folder, name), os.path.join(into, name))
        try:
            with Image.open(os.path.join(folder, name)) as image:
                upright = ImageOps.exif_transpose(image).convert("RGB")
        except Exception:  # unreadable: served as it is, without copies
            continue
        for label, method in list(VARIANTS.items())[:variants - 1]:
            target = os.path.join(into, f"{stem}__{label}{ext}")
            fmt = "PNG" if ext.lower() == ".png" else "JPEG"
            upright.transpose(method).save(target, fmt, **({"quality": 95} if fmt == "JPEG"
                                                           else {}))
    return into


def _fastest(runs: list[dict]) -> dict:
    return max(runs, key=lambda r: r["per_s"])


def _rounds(args) -> tuple[dict, dict]:
    """`--repeat` rounds, each one build per shape then every floor, so irdata and the
    floors see the same state of a shared machine; the best of each."""
    builds: dict[str, list] = {shape: [] for shape in args.shapes}
    if args.out:
        builds[STORE] = []
    floors: dict[str, list] = {f: [] for f in FLOORS}
    for _ in range(args.repeat):
        for shape in args.shapes:
            builds[shape].append(run_irdata(args.folder, args.workers, shape,
                                            args.per_partition))
        if args.out:  # the first shape again, writing to the store
            root = f"{args.out.rstrip('/')}/curation-{uuid.uuid4().hex[:8]}"
            builds[STORE].append(run_irdata(args.folder, args.workers, args.shapes[0],
                                            args.per_partition, root))
        kept = builds[args.shapes[0]][-1]["kept"]  # the same cells every build
        for floor in FLOORS:
            floors[floor].append(run_floor(args.folder, kept, args.workers, floor))
    return ({k: _fastest(v) for k, v in builds.items()},
            {k: _fastest(v) for k, v in floors.items()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--per-partition", type=int, default=2,
                        help="images per partition (default 2: 2 workers get 5 partitions "
                             "each of 20 photos, as a large build gives each worker many)")
    parser.add_argument("--shapes", nargs="+", choices=SHAPES, default=list(SHAPES))
    parser.add_argument("--naive-images", type=int, default=None,
                        help="photos for the naive loop (default: all)")
    parser.add_argument("--variants", type=int, default=1, choices=range(1, 5),
                        help="serve each photo this many times, transposed (1: DIR as it is)")
    parser.add_argument("--out", help="also build into this store URL (s3://bucket/prefix; "
                        "endpoint and credentials from the environment), each round, and "
                        "compare with the local folder")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    data = os.path.basename(os.path.abspath(args.folder))
    if args.variants > 1:
        scratch = tempfile.mkdtemp(prefix="irdata-curation-scaled-")
        args.folder = scaled_folder(args.folder, args.variants,
                                    os.path.join(scratch, "photos"))
        data += f" x{args.variants} (transposed copies)"
    try:
        report(args, data)
    finally:
        if args.variants > 1:
            shutil.rmtree(scratch, ignore_errors=True)


def report(args, data: str) -> None:
    """Run the rounds and the naive loop; print the table; append the row."""
    builds, floors = _rounds(args)
    store = builds.pop(STORE, None)
    best = max(builds.values(), key=lambda r: r["per_s"])
    naive = run_naive(args.folder, args.naive_images)
    print(f"{'':<28} {'patches':>8} {'seconds':>8} {'patches/s':>10}")
    for shape, run in builds.items():
        print(f"{'irdata, ' + shape:<28} {run['patches']:>8} {run['stage_seconds']:>8.2f} "
              f"{run['per_s']:>10.2f}   (wall incl. cluster start {run['wall']:.2f} s: "
              f"{run['wall_per_s']:.2f}/s; stages {run['by_stage']}; worker peak "
              f"{run['peak_rss_mb']:.0f} MiB)")
    if store:
        local = builds[args.shapes[0]]
        print(f"{'irdata, ' + args.shapes[0] + ', to the store':<28} {store['patches']:>8} "
              f"{store['stage_seconds']:>8.2f} {store['per_s']:>10.2f}   (wall "
              f"{store['wall']:.2f} s; {store['per_s'] / local['per_s']:.2f} of local)")
    for name, run in floors.items():
        print(f"{'floor, PNG ' + name:<28} {run['patches']:>8} {run['seconds']:>8.2f} "
              f"{run['per_s']:>10.2f}")
    print(f"{'naive (Pillow, 1 process)':<28} {naive['patches']:>8} {naive['seconds']:>8.2f} "
          f"{naive['per_s']:>10.2f}"
          + (f"   ({naive['unreadable']} files Pillow could not read)"
             if naive["unreadable"] else ""))
    if not best["patches"] or not naive["patches"]:
        raise SystemExit("curation.py: no patches kept (or none cut by the naive loop): "
                         "nothing to compare; are the images at least 512x512?")
    ratios = {f: best["per_s"] / floors[f]["per_s"] for f in FLOORS}
    print("irdata/floor: " + ", ".join(f"{ratios[f]:.2f} (PNG {f})" for f in FLOORS)
          + f"; wall/floor {best['wall_per_s'] / floors['opencv up']['per_s']:.2f} "
          f"(PNG opencv up); irdata/naive {best['per_s'] / naive['per_s']:.1f}")
    shapes = ", ".join(f"{s} {r['per_s']:.1f}/s (wall {r['wall_per_s']:.1f}/s)"
                       for s, r in builds.items())
    result = (f"best of {args.repeat}: irdata {shapes}; floor "
              + ", ".join(f"PNG {f} {floors[f]['per_s']:.1f}/s" for f in FLOORS)
              + f"; naive {naive['per_s']:.1f}/s; irdata/floor "
              + ", ".join(f"{ratios[f]:.2f} ({f})" for f in FLOORS)
              + f", irdata/naive {best['per_s'] / naive['per_s']:.1f}; {best['patches']} kept "
              f"patches; worker peak {best['peak_rss_mb']:.0f} MiB")
    if store:
        local = builds[args.shapes[0]]
        result += (f"; to {args.out} ({args.shapes[0]}): {store['per_s']:.1f}/s (wall "
                   f"{store['wall_per_s']:.1f}/s), {store['per_s'] / local['per_s']:.2f} of "
                   f"local ({store['wall_per_s'] / local['wall_per_s']:.2f} by wall)")
    if not args.no_record:
        print(append_result("curation", data,
                            f"{args.workers} workers, {args.per_partition} images per "
                            f"partition, {machine()}", result))


if __name__ == "__main__":
    main()
