"""Exclusion matching at scale: index size, build time and cost per source as the
exclusion sets grow to 10,000 images.

    python benchmarks/exclusion_scale.py ../shared/corpus/photos [--sizes 1000 3000 10000]

Fingerprints of `--base` procedural images are real; the rest are copies of them
whose descriptors have ~32 of 256 bits flipped (as unrelated but textured images
land near one another), so lookups see realistic key collisions. FOLDER's photos
are the sources: matching cost per source (ORB, lookup, checks) against their
inspection (one full decode, figures, hashes). Prints and appends a row.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import pyarrow as pa

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from image_files import image_paths
from record import append_result, machine

from irdata.demo import synth
from irdata.exclude import sets
from irdata.exclude.index import ExclusionIndex
from irdata.inspection import examine_cells
from irdata.quality import working
from irdata.tuning import tune


def _flipped(descriptors: bytes, rng: np.random.Generator) -> bytes:
    """Each bit flipped with probability 1/8 (32 of 256 on average)."""
    desc = np.frombuffer(descriptors, np.uint8)
    masks = rng.integers(0, 256, (3, len(desc)), dtype=np.uint8)
    return (desc ^ (masks[0] & masks[1] & masks[2])).tobytes()


def _rows(base: list[dict], count: int, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = list(base[:count])
    while len(rows) < count:
        source = base[len(rows) % len(base)]
        rows.append({**source, "file": f"copy{len(rows)}.png", "sha256": f"{len(rows):064x}",
                     "pixels_sha256": f"{len(rows):064x}",
                     "descriptors": _flipped(source["descriptors"], rng),
                     "mirror_descriptors": _flipped(source["mirror_descriptors"], rng)})
    return rows


def _sources(folder: str) -> list[tuple]:
    found = []
    for path in image_paths([folder]):
        with open(path, "rb") as fh:
            data = fh.read()
        started = time.perf_counter()
        inspection, pixels, _ = examine_cells(data, 10**10, 1)
        seconds = time.perf_counter() - started
        if pixels is not None:
            found.append((inspection, pixels, working.to_working(pixels), seconds))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="photos used as sources")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 3000, 10000])
    parser.add_argument("--base", type=int, default=200)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    tune()
    started = time.perf_counter()
    base = [sets.fingerprint_row("scale", f"s{n}.png",
                                 synth.encode(synth.procedural_image(5000 + n, 640, 480), "png"))
            for n in range(args.base)]
    fingerprint_ms = 1000 * (time.perf_counter() - started) / args.base
    sources = _sources(args.folder)
    inspect_ms = 1000 * np.mean([s[3] for s in sources])
    parts = [f"fingerprint {fingerprint_ms:.0f} ms per excluded image; sources' inspection "
             f"{inspect_ms:.0f} ms each"]
    for size in args.sizes:
        table = pa.Table.from_pylist(_rows(base, size), schema=sets.SCHEMA)
        started = time.perf_counter()
        index = ExclusionIndex(table)
        build = time.perf_counter() - started
        started = time.perf_counter()
        false = sum(bool(index.find(s[0].sha256, s[1], s[2], s[0].phash, s[0].dhash))
                    for s in sources)
        per_source = 1000 * (time.perf_counter() - started) / len(sources)
        share = 100 * per_source / inspect_ms
        parts.append(" ".join([
            f"{size} images ({len(index.table.owner)} descriptors, {index.table.bits}-bit keys):",
            f"index {index.table.nbytes() / 2**20:.0f} MiB built in {build:.1f} s;",
            f"{per_source:.1f} ms per source ({share:.1f}% of inspection),",
            f"{false} of {len(sources)} sources matched"]))
    print("\n".join(parts))
    if not args.no_record:
        print(append_result("exclusion_scale", f"sources {args.folder}; {args.base} procedural "
                            "excluded images + descriptor-flipped copies",
                            f"one thread, {machine()}", "; ".join(parts)))


if __name__ == "__main__":
    main()
