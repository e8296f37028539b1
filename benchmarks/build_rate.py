"""End-to-end build rate: serve DIR's photos from 127.0.0.1 and run `irdata build`.

    python benchmarks/build_rate.py ../shared/corpus/photos [--workers 2] [--repeat 3]
    python benchmarks/build_rate.py ../shared/corpus/photos --stages fetch

Prints the fetch+inspect rate (images/s, MB/s) and the whole build's rate
(kept patches/s over fetch -> dedupe -> patch -> manifest; plan and cluster
start-up excluded) and appends a row to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import sys
import tempfile

from irdata import config as config_mod
from irdata.runner import run_build
from irdata.serve import LoopbackServer
from irdata.sources.folders import is_image_name

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from record import append_result, machine


def _write_pipeline(work: str, base_url: str, names: list[str], per_partition: int) -> dict:
    url_list = os.path.join(work, "urls.csv")
    with open(url_list, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["url"])
        writer.writerows([[f"{base_url}/{name}"] for name in names])
    return config_mod.validate({"sources": [{"name": "bench", "urls": url_list}],
                                "images_per_partition": per_partition,
                                "fetch": {"allow_private_networks": True}}, "bench", work)


def measure(folder: str, workers: int, per_partition: int, stages: list[str]) -> dict:
    names = sorted(n for n in os.listdir(folder) if is_image_name(n))
    work = tempfile.mkdtemp(prefix="irdata-bench-")
    try:
        with LoopbackServer(folder) as server:
            config = _write_pipeline(work, server.url, names, per_partition)
            out = os.path.join(work, "out")
            results = run_build(config, out, stages, workers=workers, quiet=True)
        stats = results["fetch"]["stats"]
        seconds = results["fetch"]["seconds"]
        images = sum(s["status"].get("ok", 0) for s in stats)
        megabytes = sum(s["bytes"] for s in stats) / 1e6
        total = sum(r["seconds"] for r in results.values())
        kept = sum(s["status"].get("kept", 0) for s in results.get("patch", {}).get("stats", []))
        return {"images": images, "items": len(names), "seconds": seconds,
                "images_per_s": images / seconds, "mb_per_s": megabytes / seconds,
                "patches": kept, "build_seconds": total, "patches_per_s": kept / total}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--per-partition", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--stages", default="fetch,dedupe,patch,manifest")
    args = parser.parse_args()
    stages = args.stages.split(",")
    runs = [measure(args.folder, args.workers, args.per_partition, stages)
            for _ in range(args.repeat)]
    best = max(runs, key=lambda r: r["patches_per_s"] or r["images_per_s"])
    print(f"{'run':>4} {'images':>7} {'fetch s':>8} {'images/s':>9} {'MB/s':>7} "
          f"{'patches':>8} {'build s':>8} {'patches/s':>10}")
    for number, run in enumerate(runs, 1):
        print(f"{number:>4} {run['images']:>7} {run['seconds']:>8.2f} "
              f"{run['images_per_s']:>9.2f} {run['mb_per_s']:>7.1f} {run['patches']:>8} "
              f"{run['build_seconds']:>8.2f} {run['patches_per_s']:>10.2f}")
    data = os.path.basename(os.path.abspath(args.folder))
    result = (f"best of {args.repeat}: fetch+inspect {best['images_per_s']:.2f} images/s, "
              f"{best['mb_per_s']:.1f} MB/s ({best['images']} images); build "
              f"{best['patches_per_s']:.2f} patches/s ({best['patches']} kept patches, "
              f"{best['build_seconds']:.1f} s, stages {args.stages})")
    print(append_result("build_rate", data, f"{args.workers} workers, {machine()}", result))


if __name__ == "__main__":
    main()
