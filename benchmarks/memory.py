"""Peak memory of one worker process on the largest photo, against the number of images.

    python benchmarks/memory.py ../shared/corpus/photos [--counts 2 8 24]

The largest photo of DIR (by pixels; a 6000x4000-class JPEG in ../shared/corpus/photos)
is copied N times into a folder; a fresh process, tuned like a Dask worker
(irdata.tuning), runs the fetch stage (download from the folder, full decode,
inspection, cutting and encoding of cells) and the patch stage over that one
partition of N images, with the default `inspect.threads`, and reports its peak
resident memory (ru_maxrss). Target: at most 1.5 GB, and flat in N.

What bounds it: `inspect.threads` decoded photos at once, plus the downloads
held in order (at most 2 x `fetch.threads` files) and their cells; so the peak
rises until N passes that window (~32 images) and then stays (measured: 398 MiB
at 2 images, 584 at 48, 618 at 96 for 6000x4000 JPEGs).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from image_files import decoded, image_paths, skipped
from record import append_result, machine

CHILD = r"""
import json, resource, sys
from irdata import tuning
from irdata.config import validate
from irdata.sources.plan import make_plan
from irdata.stages import STAGES
from irdata.storage import Output
tuning.tune()
folder, out, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
config = validate({"sources": [{"name": "m", "dir": folder}], "images_per_partition": count,
                   "dedupe": {"enabled": False}}, "memory", folder)
make_plan(config, Output(out))
fetch = STAGES["fetch"].run(config, out, 0)
patch = STAGES["patch"].run(config, out, 0)
print(json.dumps({"peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "images": fetch["status"].get("ok", 0), "patches": patch["samples"]}))
"""


def _pixels(path: str) -> int:
    try:
        with Image.open(path) as image:
            return image.size[0] * image.size[1]
    except Exception as exc:  # not an image after all, a broken header, ...
        skipped(path, exc)
        return -1


def largest(folder: str) -> str:
    """The image under `folder` with the most pixels (by its header) that
    inspection decodes (a truncated file's header may claim the most)."""
    sizes = {path: _pixels(path) for path in image_paths([folder])}
    for path in sorted(sizes, key=sizes.get, reverse=True):
        if sizes[path] > 0 and decoded(path) is not None:
            return path
    raise SystemExit(f"memory.py: no decodable image under {folder}")


def peak(photo: str, count: int) -> dict:
    work = tempfile.mkdtemp(prefix="irdata-memory-")
    try:
        folder = os.path.join(work, "photos")
        os.makedirs(folder)
        for n in range(count):
            shutil.copy(photo, os.path.join(folder, f"copy{n:03d}{os.path.splitext(photo)[1]}"))
        done = subprocess.run([sys.executable, "-c", CHILD, folder, os.path.join(work, "out"),
                               str(count)], capture_output=True, text=True, check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--counts", type=int, nargs="+", default=[2, 8, 24])
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    photo = largest(args.folder)
    width, height = Image.open(photo).size
    rows = []
    print(f"{os.path.basename(photo)} {width}x{height}")
    print(f"{'images':>7} {'patches':>8} {'peak MiB':>9}")
    for count in args.counts:
        found = peak(photo, count)
        rows.append(f"{count} images: {found['peak_mib']:.0f} MiB")
        print(f"{found['images']:>7} {found['patches']:>8} {found['peak_mib']:>9.0f}")
    if not args.no_record:
        print(append_result("worker_memory (fetch + patch, one partition)",
                            f"{os.path.basename(photo)} {width}x{height} x N",
                            f"inspect.threads default, tuned worker, {machine()}",
                            "peak RSS " + "; ".join(rows)))


if __name__ == "__main__":
    main()
