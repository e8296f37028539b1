"""`irdata demo`: a whole build over generated (or your own) images, no network; they
are served from a loopback HTTP server so the real fetch path runs."""

from __future__ import annotations

import csv
import os
import sys
import time
from collections import Counter
from urllib.parse import quote

import yaml

from irdata import config as config_mod
from irdata.build.runner import BuildFailed, run_build
from irdata.demo.serve import LoopbackServer
from irdata.demo.synth import encode, near_duplicate, procedural_image
from irdata.errors import UsageError
from irdata.sources.folders import is_image_name
from irdata.stages import ORDER

DEMO_IMAGES = 24
DEMO_DUPLICATES = 4


def write_demo_images(folder: str, count: int = DEMO_IMAGES,
                      duplicates: int = DEMO_DUPLICATES) -> list[str]:
    """Procedural photos, planted near-duplicates and two too-small images; file names."""
    os.makedirs(folder, exist_ok=True)
    names = []
    for seed in range(count):
        width, height = (2048, 1365) if seed % 3 == 0 else (1536, 1024)
        pixels = procedural_image(seed, width, height)
        names.append(_save(folder, f"photo_{seed:03d}.jpg", encode(pixels, "jpg", 92)))
        if seed < duplicates:
            names.append(_save(folder, f"photo_{seed:03d}_copy.jpg", near_duplicate(pixels)))
    for seed in (900, 901):
        small = procedural_image(seed, 400, 300)
        names.append(_save(folder, f"thumb_{seed}.png", encode(small, "png")))
    return names


def _save(folder: str, name: str, data: bytes) -> str:
    with open(os.path.join(folder, name), "wb") as fh:
        fh.write(data)
    return name


def _image_names(folder: str) -> list[str]:
    names = []
    for root, _, files in os.walk(folder):
        for name in files:
            if is_image_name(name):
                names.append(os.path.relpath(os.path.join(root, name), folder))
    return sorted(names)


def _write_pipeline(work: str, base_url: str, names: list[str], out: str) -> str:
    url_list = os.path.join(work, "urls.csv")
    with open(url_list, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["url", "license", "source"])
        for name in names:
            writer.writerow([f"{base_url}/{quote(name)}", "CC0-1.0", "irdata-demo"])
    pipeline = {"output": out, "seed": 0, "images_per_partition": 8,
                "sources": [{"name": "demo", "urls": url_list}],
                "fetch": {"allow_private_networks": True}}
    path = os.path.join(work, "demo.yaml")
    with open(path, "w", encoding="utf-8") as fh:
        yaml.safe_dump(pipeline, fh, sort_keys=False)
    return path


def _total(stats_list: list[dict], field: str) -> Counter:
    total: Counter = Counter()
    for stats in stats_list:
        total.update(stats.get(field, {}))
    return total


def funnel(results: dict, seconds: float, out: str) -> str:
    """Sources -> fetched -> unique -> grid cells -> kept patches, with drop reasons."""
    stats = {name: result["stats"] for name, result in results.items()}
    fetched = _total(stats.get("fetch", []), "status")
    reasons = _total(stats.get("fetch", []), "reasons")
    dedupe = _total(stats.get("dedupe", []), "status")
    cells = _total(stats.get("patch", []), "status")
    lines = ["", "irdata demo: funnel",
             f"  source items          {sum(fetched.values())}",
             f"  fetched, usable       {fetched.get('ok', 0)}"]
    lines += [f"    {key:<19} {value}" for key, value in sorted(reasons.items())]
    lines += [f"  duplicates            {dedupe.get('duplicate', 0)}",
              f"  unique images         {dedupe.get('unique', 0)}",
              f"  grid cells            {cells.get('kept', 0) + cells.get('dropped', 0)}",
              f"  patches kept          {cells.get('kept', 0)}",
              f"    dropped:flat        {cells.get('dropped', 0)}",
              f"  patch shards          {len(stats.get('patch', []))}",
              f"  seconds               {seconds:.1f}",
              f"  output                {out}",
              f"    patch shards        {os.path.join(out, 'patches', '*.tar')}",
              f"    manifests           {os.path.join(out, 'manifest', '*.parquet')}"]
    return "\n".join(lines)


def run_demo(source: str | None, out: str | None, workers: int | None,
             scheduler: str | None, quiet: bool = False) -> int:
    """Generate (or take) images, serve them on loopback, build, print the funnel."""
    started = time.monotonic()
    out = os.path.abspath(out or f"irdata-demo-{time.strftime('%Y%m%d-%H%M%S')}")
    work = os.path.join(out, "demo-input")
    if source:
        if not os.path.isdir(source):
            raise UsageError(f"--source: not a folder: {source}")
        folder, names = os.path.abspath(source), _image_names(source)
        if not names:
            raise UsageError(f"--source: no images found in {source}")
    else:
        folder = os.path.join(work, "images")
        print(f"irdata demo: generating images in {folder}", file=sys.stderr)
        names = write_demo_images(folder)
    os.makedirs(work, exist_ok=True)
    with LoopbackServer(folder) as server:
        pipeline = _write_pipeline(work, server.url, names, out)
        config = config_mod.load(pipeline)
        try:
            results = run_build(config, out, list(ORDER), workers or 2, scheduler, quiet,
                                argv=sys.argv)
        except BuildFailed as failed:
            print(f"irdata demo: build incomplete:\n{failed}", file=sys.stderr)
            return 1
    print(funnel(results, time.monotonic() - started, out))
    return 0
