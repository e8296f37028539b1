"""The build plan: every source item, sorted, cut into partitions, stored once in
plan/items.parquet (one row group per partition) and plan/plan.json (counts and a
fingerprint); a rerun refuses to continue into an output whose plan differs."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import tempfile
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from irdata.config import is_remote
from irdata.errors import UsageError, describe
from irdata.keys import image_id
from irdata.net.http import Fetcher
from irdata.sources.archives import list_archive_items
from irdata.sources.folders import list_folder_items
from irdata.sources.item import SourceItem, item_columns
from irdata.sources.url_lists import list_url_items
from irdata.storage import Output, filesystem, is_store_url

PLAN_ITEMS = "plan/items.parquet"
PLAN_INFO = "plan/plan.json"


@dataclass
class Plan:
    partitions: int
    items: int
    fingerprint: str
    per_source: dict
    per_partition: int = 0


TARGET_PARTITIONS = 256  # a small build still has work for a large cluster ...
MIN_PER_PARTITION = 10  # ... in tasks not too small to pay their fixed costs (~15
# store requests each: ~0.1-0.5 s on S3, beside ~2 s of CPU for 10 photos)


def partition_size(items: int, cap: int) -> int:
    """Items per partition: enough partitions for TARGET_PARTITIONS workers, each of at
    least MIN_PER_PARTITION items, never more than `cap` (images_per_partition). It
    follows from the item count alone, so outputs do not depend on the cluster."""
    return max(1, min(cap, max(MIN_PER_PARTITION, -(-items // TARGET_PARTITIONS))))


def _archive_suffix(locator: str) -> str:
    lower = locator.lower().split("?")[0]
    for suffix in (".tar.gz", ".tgz", ".zip", ".tar", ".parquet", ".csv"):
        if lower.endswith(suffix):
            return suffix
    return ".tar"


def download_archive(out: Output, url: str, fetch_cfg: dict, folder: str = "cache/archives"
                     ) -> tuple[str, str]:
    """Fetch a remote archive (or list) once into OUT/`folder`; return (path, error
    detail). The name keeps the URL's suffix: .zip, .tar(.gz), .tgz, .parquet, .csv."""
    rel = f"{folder}/{image_id(url)}{_archive_suffix(url)}"
    if out.is_file(rel):
        return out.url(rel), ""
    print(f"irdata: downloading {url}", file=sys.stderr)
    archive_cfg = dict(fetch_cfg, total_timeout=fetch_cfg["archive_timeout"])
    fetcher = Fetcher(archive_cfg, max_bytes=fetch_cfg["archive_max_bytes"])
    try:
        with out.atomic(rel) as fh:
            result = fetcher.get(url, sink=fh)
            if result.status != "ok":
                raise _ArchiveFailed(result.reason, result.detail or result.reason)
    except _ArchiveFailed as failed:
        return "", f"{failed.reason}: {failed.detail}"
    finally:
        fetcher.close()
    return out.url(rel), ""


class _ArchiveFailed(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def _archive_items(source: dict, out: Output, fetch_cfg: dict) -> list[SourceItem]:
    locator = source["archive"]
    local = locator
    if is_remote(locator):
        local, error = download_archive(out, locator, fetch_cfg)
        if error:
            return [SourceItem(locator=locator, kind="url", source_name=source["name"],
                               source=source["name"], license=source["license"],
                               error="archive_unavailable", detail=error[:300])]
    try:
        return list_archive_items(source, locator, local, out.options)
    except Exception as exc:
        return [SourceItem(locator=locator, kind="url", source_name=source["name"],
                           source=source["name"], license=source["license"],
                           error="bad_archive", detail=describe(exc))]


def list_source_items(source: dict, out: Output, fetch_cfg: dict) -> list[SourceItem]:
    """All items of one configured source (a store URL is read with the output's
    storage options; one that cannot be listed or read is a UsageError)."""
    location = source[source["kind"]]
    try:
        if source["kind"] == "urls":
            return _store_list_items(source, out.options) if is_store_url(location) \
                else list_url_items(source)
        if source["kind"] == "dir":
            return list_folder_items(source, out.options)
    except (OSError, ValueError) as exc:
        if not is_store_url(location):
            raise
        raise UsageError(f"source {source['name']!r}: cannot read {location}: "
                         f"{describe(exc)}") from None
    return _archive_items(source, out, fetch_cfg)


def _store_list_items(source: dict, options: dict) -> list[SourceItem]:
    """The items of a URL list on a store, read from a local copy (then removed)."""
    fs, path = filesystem(source["urls"], options)
    with tempfile.TemporaryDirectory(prefix="irdata-list-") as folder:
        local = os.path.join(folder, os.path.basename(path))
        fs.get(path, local)
        return list_url_items({**source, "urls": local, "list_url": source["urls"]})


def _sort_key(item: SourceItem, position: int) -> tuple[str, int]:
    # Archive members keep archive order so one sequential read serves a partition.
    if item.kind == "member":
        return item.locator[: len(item.locator) - len(item.member)], position
    return item.locator, 0


def collect_items(config: dict, out: Output) -> list[SourceItem]:
    """Every item of every source, one per locator (the first source wins), sorted."""
    keyed, seen = [], set()
    for source in config["sources"]:
        for position, item in enumerate(list_source_items(source, out, config["fetch"])):
            if item.locator in seen:
                continue
            seen.add(item.locator)
            keyed.append((_sort_key(item, position), item))
    keyed.sort(key=lambda pair: pair[0])
    return [item for _, item in keyed]


def _fingerprint(items: list[SourceItem], per_partition: int) -> str:
    digest = hashlib.sha256(str(per_partition).encode())
    for item in items:
        digest.update(json.dumps(item.to_row(), sort_keys=True).encode("utf-8"))
    return digest.hexdigest()


def make_plan(config: dict, out: Output) -> Plan:
    """List, sort and cut the items; write the plan, or check it against the stored one."""
    items = collect_items(config, out)
    size = partition_size(len(items), config["images_per_partition"])
    per_source: dict[str, int] = {}
    for item in items:
        per_source[item.source_name] = per_source.get(item.source_name, 0) + 1
    plan = Plan(partitions=max(1, -(-len(items) // size)), items=len(items),
                fingerprint=_fingerprint(items, size), per_source=per_source,
                per_partition=size)
    if out.is_file(PLAN_INFO):
        stored = out.read_json(PLAN_INFO)
        if stored.get("fingerprint") != plan.fingerprint:
            raise UsageError(
                f"{out.root} holds a build planned from other sources or settings "
                f"({stored.get('items')} items then, {plan.items} now): "
                f"use a new --out, or delete {out.path('plan')} to start over")
        return plan
    _write_items(out, items, size)
    out.write_json(PLAN_INFO, plan.__dict__)
    return plan


def _write_items(out: Output, items: list[SourceItem], size: int) -> None:
    columns = item_columns()
    schema = pa.schema([(name, pa.string()) for name in columns] + [("partition", pa.int32())])
    with out.atomic(PLAN_ITEMS) as fh, pq.ParquetWriter(fh, schema) as writer:
        chunks = [items[i:i + size] for i in range(0, len(items), size)] or [[]]
        for index, chunk in enumerate(chunks):
            data = {name: [getattr(item, name) for item in chunk] for name in columns}
            data["partition"] = [index] * len(chunk)
            writer.write_table(pa.table(data, schema=schema))


def read_partition(out: Output, index: int) -> list[SourceItem]:
    """The items of one partition, in plan order."""
    with out.fs.open(out.path(PLAN_ITEMS), "rb") as fh:
        rows = pq.ParquetFile(fh).read_row_group(index).to_pylist()
    return [SourceItem.from_row(row) for row in rows]

