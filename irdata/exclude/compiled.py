"""The configured exclusion sets compiled into the output before any task runs:
OUT/exclude/NAME.parquet per set (remote sets downloaded once into
OUT/cache/exclude) and OUT/exclude/index/, their descriptor table stored for
memory-mapping. Each process opens the index once."""

from __future__ import annotations

import glob
import hashlib
import json
import os

import pyarrow as pa

from irdata.errors import ExclusionError
from irdata.exclude import lookup
from irdata.exclude.index import LIGHT_COLUMNS, ExclusionIndex
from irdata.exclude.sets import compile_set, read_table
from irdata.sources.plan import download_archive

FOLDER = "exclude"  # OUT/exclude/NAME.parquet: the configured sets, compiled
INDEX = f"{FOLDER}/index"  # OUT/exclude/index/KEY.*.npy: their descriptor table
DOWNLOADS = "cache/exclude"  # OUT/cache/exclude: remote sets, downloaded once


def compiled_path(name: str) -> str:
    return f"{FOLDER}/{name}.parquet"


def compile_sets(config: dict, out) -> list[str]:
    """Compile every configured set into the output, and store the descriptor table
    of all of them (each reused while its inputs are unchanged)."""
    if not config.get("exclude"):
        return []
    out.makedirs(FOLDER)
    paths = [compile_set(_local(spec, out, config["fetch"]), out.path(compiled_path(spec["name"])))
             for spec in config["exclude"]]
    _store_table(paths, out.path(INDEX))
    return paths


def _local(spec: dict, out, fetch_cfg: dict) -> dict:
    """The set with a local path: a URL's archive or hash list downloaded once into
    the output (by the fetch settings: private networks, timeouts, byte cap)."""
    if not spec.get("url"):
        return spec
    path, error = download_archive(out, spec["url"], fetch_cfg, DOWNLOADS)
    if error:
        raise ExclusionError(f"exclusion set {spec['name']!r}: cannot download "
                             f"{spec['url']}: {error}")
    return {**spec, "path": path}


def table_key(paths: list[str]) -> str:
    """Names the descriptor table of these compiled sets: changes with their files
    (name, size, time) and with the table's layout."""
    parts = [lookup.VERSION, lookup.PREFIX_BITS]
    for path in paths:
        stat = os.stat(path)
        parts.append([os.path.basename(path), stat.st_size, stat.st_mtime_ns])
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:24]


def _store_table(paths: list[str], folder: str) -> None:
    """FOLDER/KEY.*.npy and, last, FOLDER/KEY.done; other keys' files removed."""
    key = table_key(paths)
    if os.path.exists(os.path.join(folder, f"{key}.done")):
        return
    os.makedirs(folder, exist_ok=True)
    for stale in glob.glob(os.path.join(folder, "*")):
        os.remove(stale)
    table = pa.concat_tables([read_table(p, columns=["points", "descriptors", "mirror_points",
                                                     "mirror_descriptors"]) for p in paths])
    lookup.DescriptorTable.from_table(table).save(folder, key)
    open(os.path.join(folder, f"{key}.done"), "w").close()


_CACHE: dict[str, ExclusionIndex] = {}


def load_index(paths: list[str], folder: str | None = None) -> ExclusionIndex | None:
    """The index of the compiled sets, opened once per process: the descriptor table
    memory-mapped from `folder` when stored there for these sets, else built here."""
    if not paths:
        return None
    key = table_key(paths)
    if key not in _CACHE:
        _CACHE.clear()
        descriptors = _stored_table(folder, key)
        columns = LIGHT_COLUMNS if descriptors else None
        table = pa.concat_tables([read_table(p, columns=columns) for p in paths])
        _CACHE[key] = ExclusionIndex(table, descriptors)
    return _CACHE[key]


def _stored_table(folder: str | None, key: str) -> lookup.DescriptorTable | None:
    """The stored table when complete and readable (else None: it is built instead)."""
    if not folder or not os.path.exists(os.path.join(folder, f"{key}.done")):
        return None
    try:
        return lookup.DescriptorTable.open(folder, key)
    except (OSError, ValueError):
        return None


def exclusion_index(out, config: dict) -> ExclusionIndex | None:
    """The index of the configured sets, as compiled into the output."""
    paths = [out.path(compiled_path(s["name"])) for s in config.get("exclude", [])]
    return load_index(paths, out.path(INDEX))
