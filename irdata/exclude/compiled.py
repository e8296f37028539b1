"""The configured exclusion sets compiled into the output before any task runs:
OUT/exclude/NAME.parquet per set (remote sets downloaded once into
OUT/cache/exclude) and OUT/exclude/index/, their descriptor table stored for
memory-mapping. Each process opens the index once."""

from __future__ import annotations

import hashlib
import json
import os
import posixpath
import tempfile

import pyarrow as pa

from irdata.errors import ExclusionError, describe
from irdata.exclude import lookup
from irdata.exclude.index import LIGHT_COLUMNS, ExclusionIndex
from irdata.exclude.sets import compile_set, read_table, signature
from irdata.sources.plan import download_archive
from irdata.storage import Output, filesystem, is_local, is_store_url

FOLDER = "exclude"  # OUT/exclude/NAME.parquet: the configured sets, compiled
INDEX = f"{FOLDER}/index"  # OUT/exclude/index/KEY.*.npy: their descriptor table
DOWNLOADS = "cache/exclude"  # OUT/cache/exclude: remote sets, downloaded once


def compiled_path(name: str) -> str:
    return f"{FOLDER}/{name}.parquet"


def compile_sets(config: dict, out) -> list[str]:
    """Compile every configured set into the output, and store the descriptor table
    of all of them (each reused while its inputs are unchanged); returns the sets'
    paths inside the output."""
    if not config.get("exclude"):
        return []
    out.makedirs(FOLDER)
    rels = [_compile(spec, out, config["fetch"]) for spec in config["exclude"]]
    _store_table(out, rels)
    return rels


def _compile(spec: dict, out, fetch_cfg: dict) -> str:
    """One set compiled; a set on a store is signed from its listing and copied only
    when that changed."""
    rel = compiled_path(spec["name"])
    if spec.get("url") and is_store_url(spec["url"]):
        copy = lambda s: {**s, "path": _copied(s["url"], out.options)}  # noqa: E731
        return compile_set(spec, out, rel, _store_signature(spec, out.options), copy)
    return compile_set(_local(spec, out, fetch_cfg), out, rel)


def _store_signature(spec: dict, options: dict) -> str:
    """Changes when the set's objects change (names, sizes, tags) or the matcher does."""
    fs, path = filesystem(spec["url"], options)
    try:
        found = fs.find(path.rstrip("/"), detail=True) or {path: fs.info(path)}
    except (OSError, ValueError) as exc:
        raise ExclusionError(f"cannot read exclusion set {spec['url']}: {describe(exc)}") \
            from None
    return signature(spec, [(name, info.get("size"), str(info.get("ETag") or info.get("mtime")))
                            for name, info in found.items()])


def _local(spec: dict, out, fetch_cfg: dict) -> dict:
    """The set with a local path: a web URL's archive or hash list downloaded once
    into the output (into the temp folder when the output is remote), by the fetch
    settings: private networks, timeouts, byte cap."""
    if not spec.get("url"):
        return spec
    cache = out if is_local(out.root) else Output(os.path.join(tempfile.gettempdir(),
                                                               "irdata-downloads"))
    path, error = download_archive(cache, spec["url"], fetch_cfg, DOWNLOADS)
    if error:
        raise ExclusionError(f"exclusion set {spec['name']!r}: cannot download "
                             f"{spec['url']}: {error}")
    return {**spec, "path": path}


def _copied(url: str, options: dict) -> str:
    """A set on a store (folder, archive or hash list) copied into the temp folder."""
    fs, path = filesystem(url, options)
    local = os.path.join(tempfile.mkdtemp(prefix="irdata-set-"), posixpath.basename(
        path.rstrip("/")) or "set")
    try:
        fs.get(path.rstrip("/"), local, recursive=fs.isdir(path))
    except (OSError, ValueError) as exc:
        raise ExclusionError(f"cannot read exclusion set {url}: {describe(exc)}") from None
    return local


def table_key(out, rels: list[str]) -> str:
    """Names the descriptor table of these compiled sets: changes with their files
    (name and version: size and time, or the store's tag) and the table's layout."""
    parts = [lookup.VERSION, lookup.PREFIX_BITS]
    parts += [[rel, out.fs.ukey(out.path(rel))] for rel in rels]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:24]


def _store_table(out, rels: list[str]) -> None:
    """OUT/exclude/index/KEY.*.npy and, last, KEY.done; other keys' files removed."""
    key = table_key(out, rels)
    if out.is_file(f"{INDEX}/{key}.done"):
        return
    for stale in out.glob(f"{INDEX}/*") if out.exists(INDEX) else []:
        out.fs.rm(stale)
    table = pa.concat_tables([read_table(out.path(rel), columns=list(lookup.BLOB_COLUMNS),
                                         fs=out.fs) for rel in rels])
    descriptors = lookup.DescriptorTable.from_table(table)
    for name in lookup.ARRAYS:
        with out.atomic(f"{INDEX}/{key}.{name}.npy") as fh:
            descriptors.save_array(name, fh)
    out.write_bytes(f"{INDEX}/{key}.done", b"")


_CACHE: dict[str, ExclusionIndex] = {}


def load_index(out, rels: list[str]) -> ExclusionIndex | None:
    """The index of the compiled sets, opened once per process: the descriptor table
    memory-mapped when stored for these sets (from a local copy when the output is
    remote), else built here."""
    if not rels:
        return None
    key = table_key(out, rels)
    if key not in _CACHE:
        _CACHE.clear()
        descriptors = _stored_table(out, key)
        columns = LIGHT_COLUMNS if descriptors else None
        table = pa.concat_tables([read_table(out.path(rel), columns=columns, fs=out.fs)
                                  for rel in rels])
        _CACHE[key] = ExclusionIndex(table, descriptors)
    return _CACHE[key]


def _stored_table(out, key: str) -> lookup.DescriptorTable | None:
    """The stored table when complete and readable (else None: it is built instead)."""
    if not out.is_file(f"{INDEX}/{key}.done"):
        return None
    try:
        folder = out.path(INDEX) if is_local(out.root) else _local_copy(out, key)
        return lookup.DescriptorTable.open(folder, key)
    except (OSError, ValueError):
        return None


def _local_copy(out, key: str) -> str:
    """A remote output's stored table copied once per machine into the temp folder
    (each file whole, then renamed: workers of one machine may race)."""
    folder = os.path.join(tempfile.gettempdir(), "irdata-exclude", key)
    os.makedirs(folder, exist_ok=True)
    for name in lookup.ARRAYS:
        local = os.path.join(folder, f"{key}.{name}.npy")
        if not os.path.exists(local):
            partial = f"{local}.{os.getpid()}.part"
            out.fs.get(out.path(f"{INDEX}/{key}.{name}.npy"), partial)
            os.replace(partial, local)
    return folder


def exclusion_index(out, config: dict) -> ExclusionIndex | None:
    """The index of the configured sets, as compiled into the output."""
    return load_index(out, [compiled_path(s["name"]) for s in config.get("exclude", [])])
