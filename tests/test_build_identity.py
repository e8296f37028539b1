"""A fixed build (demo images, degrade on) gives the same shards and tables as the
checked-in record, byte for byte for the tars and row for row for the tables.

The invariant of behaviour-preserving restructurings (issue 16): make the record
before, and every step after must still match it. Regenerate it only when a change
is meant to alter outputs:

    .venv/bin/python tests/test_build_identity.py

Image ids are sha256 of the locator (the absolute path), so the build always runs
in the same folder, ROOT. Tables are compared by their rows (canonical JSON), not
by their Parquet bytes, which carry the writer's version.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from inline_build import build_inline

from irdata.config import validate
from irdata.demo.job import write_demo_images

ROOT = Path("/tmp/irdata-build-identity")
RECORD = Path(__file__).resolve().parent / "data" / "build_identity.json"
IMAGES, DUPLICATES = 8, 2


def build() -> Path:
    """The fixed build, from scratch, in ROOT; returns its output folder."""
    shutil.rmtree(ROOT, ignore_errors=True)
    write_demo_images(str(ROOT / "images"), IMAGES, DUPLICATES)
    config = validate({"seed": 0, "images_per_partition": 4,
                       "sources": [{"name": "demo", "dir": str(ROOT / "images"),
                                    "license": "CC0"}],
                       "degrade": {"variants": 2, "fraction": 0.5}}, "identity", str(ROOT))
    build_inline(config, str(ROOT / "out"))
    return ROOT / "out"


def _rows_digest(path: Path) -> str:
    rows = pq.read_table(path).to_pylist()
    text = json.dumps(rows, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def record_of(out: Path) -> dict:
    """sha256 of every tar, digest of every Parquet table's rows, and the funnel."""
    tars = {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*.tar"))}
    tables = {str(p.relative_to(out)): _rows_digest(p) for p in sorted(out.rglob("*.parquet"))
              if p.parts[len(out.parts)] not in ("cache",)}
    patches = pq.read_table(out / "manifest" / "patches.parquet").to_pylist()
    images = pq.read_table(out / "manifest" / "images.parquet").to_pylist()
    funnel = {"images": len(images), "usable": sum(r["status"] == "ok" for r in images),
              "cells": len(patches), "kept": sum(bool(r["kept"]) for r in patches)}
    return {"tars": tars, "tables": tables, "funnel": funnel}


@pytest.mark.skipif(not os.access("/tmp", os.W_OK), reason="needs a writable /tmp")
def test_the_fixed_build_matches_its_record():
    expected = json.loads(RECORD.read_text())
    found = record_of(build())
    assert found["funnel"] == expected["funnel"]
    assert sorted(found["tars"]) == sorted(expected["tars"])
    assert sorted(found["tables"]) == sorted(expected["tables"])
    changed = [name for name in expected["tars"] if found["tars"][name] != expected["tars"][name]]
    changed += [name for name in expected["tables"]
                if found["tables"][name] != expected["tables"][name]]
    assert changed == [], f"outputs differ from {RECORD.name}: {changed}"


if __name__ == "__main__":
    RECORD.write_text(json.dumps(record_of(build()), indent=1, sort_keys=True) + "\n")
    print(f"wrote {RECORD}")
