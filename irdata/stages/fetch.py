"""Fetch stage: one partition of source items -> raw/NNNNN.{tar,parquet,stats.json}.

Downloads (or reads) items concurrently, inspects each with one full decode, writes
usable images' original bytes to a tar and one row per item to Parquet, and cuts the
same decode into cells (cells/NNNNN.{tar,parquet}) for the patch stage. No Dask here."""

from __future__ import annotations

import json
import threading
from collections import Counter
from contextlib import closing

import pyarrow as pa
import pyarrow.parquet as pq

from irdata.errors import describe
from irdata.exclude.compiled import exclusion_index
from irdata.imaging.sniff import extension
from irdata.inspection import Inspection, examine_cells
from irdata.keys import partition_name
from irdata.net.http import Download, Fetcher
from irdata.patching import cells as cells_mod
from irdata.quality.gates import FIGURES
from irdata.rows import Column, columns, make_row, sample_names, schema
from irdata.shards import ShardFile
from irdata.sources.archives import MemberTooLarge, read_members
from irdata.sources.item import SourceItem
from irdata.sources.plan import read_partition
from irdata.stages.ordered import ordered_map
from irdata.storage import Output, is_store_url, open_input

# Quality figures (irdata/quality/gates.py) as columns, after jpeg_quality.
QUALITY_FIGURES = tuple(name for name in FIGURES if name != "jpeg_quality")
STAGE = "fetch"
FOLDER = "raw"
ITEM_COLUMNS = ("image_id", "locator", "source", "source_name", "license")
OUTCOME_COLUMNS = ("status", "reason", "detail")
BLANK_IS_NULL = ("phash", "dhash", "format", "mode")  # the inspection's "" is stored as null
# The images table (raw/*.parquet, manifest/images.parquet); `sample`: also in the
# JSON stored beside each raw image.
COLUMNS = (
    *columns(ITEM_COLUMNS, pa.string(), sample=True),
    *columns(OUTCOME_COLUMNS, pa.string()),
    Column("http_status", pa.int32(), True), Column("attempts", pa.int32()),
    Column("bytes", pa.int64(), True), *columns(("sha256", "phash", "dhash"), pa.string(), True),
    *columns(("width", "height"), pa.int32(), True),
    *columns(("format", "mode"), pa.string(), True),
    Column("orientation", pa.int8(), True), Column("frames", pa.int32(), True),
    Column("jpeg_quality", pa.int8(), True), *columns(QUALITY_FIGURES, pa.float32(), True),
    Column("upscaled", pa.bool_(), True),
    *columns(("excluded_set", "excluded_file", "excluded_kind"), pa.string(), True),
    Column("excluded_distance", pa.float32(), True), Column("excluded_regions", pa.string()),
    Column("extra", pa.string(), True),
    Column("partition", pa.int32()), Column("shard", pa.string()),
)
SCHEMA = schema(COLUMNS)
# The columns the inspection fills (every other Inspection field is its outcome).
INSPECTED = tuple(name for name in SCHEMA.names
                  if name in Inspection.__dataclass_fields__ and name not in OUTCOME_COLUMNS)


CELLS = "cells"  # patch cells of every usable image; the patch stage consumes them


def outputs(index: int) -> dict[str, str]:
    """Relative paths of a partition's outputs; `done` is written last."""
    name = partition_name(index)
    return {"tar": f"{FOLDER}/{name}.tar", "parquet": f"{FOLDER}/{name}.parquet",
            "cells_tar": f"{CELLS}/{name}.tar", "cells_parquet": f"{CELLS}/{name}.parquet",
            "stats": f"{FOLDER}/{name}.stats.json", "done": f"{FOLDER}/{name}.done"}


class _SequentialMembers:
    """Serves members of one archive in archive order from a single pass."""

    def __init__(self, item: SourceItem, names: list[str], cap: int, options: dict):
        archive = item.locator[: len(item.locator) - len(item.member) - 1]
        self._stream = read_members(item.container, archive, names, cap, options)
        self._ready: dict[str, bytes | Exception] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> bytes | Exception:
        with self._lock:
            while name not in self._ready:
                got = next(self._stream, None)
                if got is None:
                    return KeyError(f"member not found: {name}")
                self._ready[got[0]] = got[1]
            return self._ready.pop(name)


FILE_PROBLEMS = (FileNotFoundError, PermissionError, IsADirectoryError)


def _read_file(path: str, cap: int, options: dict) -> Download:
    """A local file or a store URL (s3://...). A missing or forbidden file is a read
    error; any other failure of a store (an endpoint down) fails the task, which is
    retried, rather than drop the image."""
    result = Download(url=path, attempts=1)
    recorded = FILE_PROBLEMS if is_store_url(path) else (OSError,)
    try:
        with open_input(path, options) as fh:
            data = fh.read(cap + 1)
    except recorded as exc:
        result.status, result.reason, result.detail = "failed", "read_error", str(exc)[:300]
        return result
    if len(data) > cap:
        result.status, result.reason, result.detail = "dropped", "too_large", f"file > {cap} bytes"
    else:
        result.data = data
    return result


def _read_member(item: SourceItem, members: dict, cap: int) -> Download:
    got = members[item.container].get(item.member)
    result = Download(url=item.locator, attempts=1)
    if isinstance(got, MemberTooLarge):
        result.status, result.reason, result.detail = "dropped", "too_large", str(got)
    elif isinstance(got, Exception):
        result.status, result.reason = "failed", "archive_error"
        result.detail = describe(got)
    else:
        result.data = got
    return result


def _retrieve(item: SourceItem, fetcher: Fetcher, members: dict, config: dict) -> Download:
    cap = config["fetch"]["max_bytes"]
    if item.error:
        return Download(url=item.locator, status="failed", reason=item.error, detail=item.detail)
    if item.kind == "file":
        return _read_file(item.locator, cap, config["storage_options"])
    if item.kind == "member":
        return _read_member(item, members, cap)
    return fetcher.get(item.locator)


def _download(item: SourceItem, fetcher: Fetcher, members: dict, config: dict
              ) -> tuple[SourceItem, Download]:
    try:
        return item, _retrieve(item, fetcher, members, config)
    except Exception as exc:
        return item, Download(url=item.locator, status="failed", reason="internal_error",
                              detail=describe(exc))


def _examine(got: tuple[SourceItem, Download], config: dict, exclusions
             ) -> tuple[SourceItem, Download, Inspection | None, list | None]:
    """Inspect a download (one full decode, exclusion sets matched) and cut a usable
    image into patch cells."""
    item, download = got
    if download.status != "ok":
        return item, download, None, None
    inspection, pixels, measured = examine_cells(
        download.data, config["inspect"]["max_pixels"], config["inspect"]["min_side"],
        config.get("quality"), config["patch"], exclusions)
    if pixels is None:
        download.data = b""
        return item, download, inspection, None
    regions = json.loads(inspection.excluded_regions or "[]")
    return item, download, inspection, cells_mod.cut(pixels, config["patch"], measured,
                                                     regions)


def _row(item: SourceItem, download: Download, inspection: Inspection | None,
         index: int) -> dict:
    found = inspection.to_dict() if inspection else {}
    if download.status == "ok":
        outcome = (found.get("status", "ok"), found.get("reason", ""), found.get("detail", ""))
    else:
        outcome = (download.status, download.reason, download.detail)
    return make_row(COLUMNS, {
        **{name: getattr(item, name) for name in ITEM_COLUMNS},
        **dict(zip(OUTCOME_COLUMNS, outcome, strict=True)),
        "http_status": download.http_status, "attempts": download.attempts,
        **{name: found.get(name) for name in INSPECTED},
        **{name: found.get(name) or None for name in BLANK_IS_NULL},
        "extra": item.extra, "partition": index,
        "shard": outputs(index)["tar"] if outcome[0] == "ok" else None,
    })


def _sample_json(image_row: dict) -> dict:
    sample = {name: image_row[name] for name in sample_names(COLUMNS)}
    sample["extra"] = json.loads(image_row["extra"] or "{}")
    return sample


def _member_readers(items: list[SourceItem], cap: int, options: dict
                    ) -> dict[str, _SequentialMembers]:
    wanted: dict[str, list[SourceItem]] = {}
    for item in items:
        if item.kind == "member" and not item.error:
            wanted.setdefault(item.container, []).append(item)
    return {container: _SequentialMembers(group[0], [i.member for i in group], cap, options)
            for container, group in wanted.items()}


def _work(items: list[SourceItem], config: dict, exclusions=None):
    """(item, download, inspection, cells) in item order: downloads on `fetch.threads`
    threads, decode + inspection + cutting on `inspect.threads`."""
    fetcher = Fetcher(config["fetch"])
    members = _member_readers(items, config["fetch"]["max_bytes"], config["storage_options"])
    try:
        downloads = ordered_map(lambda item: _download(item, fetcher, members, config),
                                items, config["fetch"]["threads"], name="irdata-fetch")
        yield from ordered_map(lambda got: _examine(got, config, exclusions), downloads,
                               config["inspect"]["threads"], name="irdata-inspect")
    finally:
        fetcher.close()


def write_cells_table(out: Output, rel: str, rows: list[dict], settings: dict,
                      shard: dict) -> None:
    """Cell rows, tagged with their `patch` settings and the cells tar's record (`shard`)."""
    table = pa.Table.from_pylist(rows, schema=cells_mod.SCHEMA)
    table = table.replace_schema_metadata({"irdata.patch": json.dumps(settings, sort_keys=True),
                                           "irdata.cells_shard": json.dumps(shard)})
    with out.atomic(rel) as fh:
        pq.write_table(table, fh)


def run_partition(config: dict, out_root: str, index: int) -> dict:
    """Fetch, inspect and cut one partition; write its outputs atomically, then its marker."""
    out = Output(out_root, config["storage_options"])
    paths = outputs(index)
    items = read_partition(out, index)
    rows, counts, reasons = [], Counter(), Counter()
    total_bytes = 0
    with (ShardFile(out, paths["tar"]) as raw, ShardFile(out, paths["cells_tar"]) as cells_tar,
          closing(_work(items, config, exclusion_index(out, config))) as results):
        cutter = cells_mod.CellWriter(cells_tar, None, config["patch"]["size"])
        for item, download, inspection, cells in results:
            row = _row(item, download, inspection, index)
            rows.append(row)
            counts[row["status"]] += 1
            if row["reason"]:
                reasons[f"{row['status']}:{row['reason']}"] += 1
            if row["status"] == "ok":
                total_bytes += len(download.data)
                raw.add(item.image_id, {extension(inspection.format): download.data,
                                        "json": _sample_json(row)})
                cutter.add(row, cells)
    with out.atomic(paths["parquet"]) as fh:
        pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMA), fh)
    cells_shard = {k: v for k, v in cells_tar.record.items() if k != "path"}
    write_cells_table(out, paths["cells_parquet"], cutter.rows.records, config["patch"],
                      cells_shard)
    shard = raw.record
    stats = {"stage": STAGE, "partition": index, "items": len(items), "status": dict(counts),
             "reasons": dict(sorted(reasons.items())), "bytes": total_bytes,
             "samples": counts.get("ok", 0), "shard": shard, "cells": dict(cutter.rows.counts)}
    return stats
