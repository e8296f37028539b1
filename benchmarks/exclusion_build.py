"""What an exclusion set adds to a whole build: `irdata build` of the same photos
without and with `exclude:`, alternating, on the same cores.

    python benchmarks/exclusion_build.py ../shared/corpus/photos [--excluded 10000]
        [--variants 4] [--rounds 3] [--workers 2] [--per-partition 10]

The set is a hash list of `--excluded` images (benchmarks/exclusion_scale.py's
procedural fingerprints and their descriptor-flipped copies, so lookups meet
realistic key collisions), none of them a source. It is compiled into the
excluded build's output once, before the rounds (timed apart: a rerun or a second
build reuses it), as a build reuses it while the set is unchanged. Each round
runs both builds from an empty output (the compiled set kept) and times the
whole command and the fetch stage, where matching runs. Prints and appends a row.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from curation import scaled_folder
from exclusion_scale import _rows
from record import append_result, machine

from irdata import config as config_mod
from irdata.demo import synth
from irdata.exclude import compiled, sets
from irdata.storage import Output


def _hash_list(count: int, base: int, path: str) -> str:
    rows = [sets.fingerprint_row("synthetic", f"s{n}.png",
                                 synth.encode(synth.procedural_image(5000 + n, 640, 480), "png"))
            for n in range(base)]
    sets.write_table(pa.Table.from_pylist(_rows(rows, count), schema=sets.SCHEMA), path)
    return path


def _pipeline(work: str, folder: str, per_partition: int, hashes: str | None) -> str:
    raw = {"sources": [{"name": "photos", "dir": folder}],
           "images_per_partition": per_partition}
    if hashes:
        raw["exclude"] = [{"name": "synthetic", "hashes": hashes}]
    path = os.path.join(work, "excluded.yaml" if hashes else "plain.yaml")
    with open(path, "w") as fh:
        json.dump(raw, fh)
    return path


def _empty(out: str) -> None:
    """Everything of a previous round gone but the compiled sets."""
    for name in os.listdir(out) if os.path.isdir(out) else []:
        if name != "exclude":
            target = os.path.join(out, name)
            shutil.rmtree(target) if os.path.isdir(target) else os.remove(target)


def _build(pipeline: str, out: str, workers: int) -> dict:
    _empty(out)
    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "irdata", "build", pipeline, "--out", out,
                          "--workers", str(workers), "--quiet"],
                         capture_output=True, text=True)
    wall = time.perf_counter() - started
    if run.returncode:
        raise SystemExit(f"build failed:\n{run.stderr}")
    with open(os.path.join(out, "run.json")) as fh:
        stages = json.load(fh)["stage_times"]
    images = pq.read_table(os.path.join(out, "manifest", "images.parquet"),
                           columns=["reason"]).column("reason").to_pylist()
    return {"wall": wall, "fetch": stages["fetch"]["seconds"],
            "excluded": images.count("excluded"), "images": len(images)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="photos, none of them an excluded image")
    parser.add_argument("--excluded", type=int, default=10000)
    parser.add_argument("--base", type=int, default=200)
    parser.add_argument("--variants", type=int, default=4, choices=range(1, 5))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--per-partition", type=int, default=10)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="irdata-exclusion-build-")
    try:
        folder = scaled_folder(args.folder, args.variants, os.path.join(work, "photos"))
        hashes = _hash_list(args.excluded, args.base, os.path.join(work, "set.parquet"))
        plain = _pipeline(work, folder, args.per_partition, None)
        excluded = _pipeline(work, folder, args.per_partition, hashes)
        outs = {"plain": os.path.join(work, "out_plain"),
                "excluded": os.path.join(work, "out_excluded")}
        started = time.perf_counter()
        compiled.compile_sets(config_mod.load(excluded), Output(outs["excluded"]))
        compile_s = time.perf_counter() - started
        runs: dict[str, list[dict]] = {"plain": [], "excluded": []}
        for _ in range(args.rounds):
            for name, pipeline in (("plain", plain), ("excluded", excluded)):
                runs[name].append(_build(pipeline, outs[name], args.workers))
        table_mib = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in
                        os.walk(os.path.join(outs["excluded"], "exclude", "index"))
                        for f in fs) / 2**20
        report(args, runs, compile_s, table_mib)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _mean(runs: list[dict], key: str) -> float:
    return sum(r[key] for r in runs) / len(runs)


def report(args, runs: dict, compile_s: float, table_mib: float) -> None:
    images = runs["plain"][0]["images"]
    parts = []
    for key, label in (("wall", "whole build"), ("fetch", "fetch stage")):
        plain, excl = _mean(runs["plain"], key), _mean(runs["excluded"], key)
        parts.append(f"{label} {plain:.2f} s without, {excl:.2f} s with "
                     f"({100 * (excl / plain - 1):+.1f}%; rounds "
                     f"{', '.join(f'{r[key]:.2f}' for r in runs['plain'])} vs "
                     f"{', '.join(f'{r[key]:.2f}' for r in runs['excluded'])})")
    parts.append(f"set compiled once in {compile_s:.1f} s (descriptor table {table_mib:.0f} "
                 f"MiB on disk, memory-mapped by the workers)")
    parts.append(f"images dropped as excluded: {runs['excluded'][0]['excluded']} of {images}")
    print("\n".join(parts))
    if not args.no_record:
        print(append_result(
            "exclusion_build", f"{args.folder} x{args.variants} ({images} images); hash list "
            f"of {args.excluded} synthetic excluded images",
            f"`irdata build`, {args.workers} worker processes, {args.per_partition} images "
            f"per partition, {args.rounds} alternating rounds, {machine()}", "; ".join(parts)))


if __name__ == "__main__":
    main()
