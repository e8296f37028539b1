"""URL lists (CSV, TSV, Parquet, JSONL) to SourceItems; every row becomes an item."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import pyarrow.parquet as pq

from irdata.errors import ConfigError
from irdata.sources.item import SourceItem

MAX_URL_LENGTH = 8192
csv.field_size_limit(16 * 1024 * 1024)


def _csv_rows(path: str, delimiter: str) -> Iterator[tuple[int, dict | None]]:
    with open(path, newline="", encoding="utf-8", errors="replace") as fh:
        reader = csv.DictReader(fh, delimiter=delimiter)
        if reader.fieldnames is None:
            return
        yield 0, {"__columns__": reader.fieldnames}
        for number, row in enumerate(reader, start=2):
            yield number, {k: v for k, v in row.items() if k is not None}


def _jsonl_rows(path: str) -> Iterator[tuple[int, dict | None]]:
    with open(path, encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                row = None
            yield number, row if isinstance(row, dict) else None


def _parquet_rows(path: str) -> Iterator[tuple[int, dict | None]]:
    table = pq.read_table(path)
    yield 0, {"__columns__": table.column_names}
    for number, row in enumerate(table.to_pylist(), start=1):
        yield number, row


def _rows(path: str) -> Iterator[tuple[int, dict | None]]:
    lower = path.lower()
    if lower.endswith((".parquet", ".pq")):
        return _parquet_rows(path)
    if lower.endswith((".jsonl", ".ndjson", ".json")):
        return _jsonl_rows(path)
    if lower.endswith((".tsv", ".tab")):
        return _csv_rows(path, "\t")
    if lower.endswith(".csv"):
        return _csv_rows(path, ",")
    raise ConfigError(path, "unknown URL list format (use .csv, .tsv, .parquet or .jsonl)")


def url_problem(url: str) -> str:
    """Empty string if `url` is a fetchable http(s) URL, else a short reason detail."""
    if not url:
        return "empty url"
    if len(url) > MAX_URL_LENGTH:
        return f"url longer than {MAX_URL_LENGTH} characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        return f"unparsable url: {exc}"
    if parts.scheme.lower() not in ("http", "https"):
        return f"unsupported scheme {parts.scheme!r}"
    if not parts.hostname:
        return "url has no host"
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        return "url contains whitespace or control characters"
    return ""


def _text(value) -> str:
    return "" if value is None else str(value)


def _item(source: dict, path: str, number: int, row: dict | None) -> SourceItem:
    column = source["url_column"]
    if row is None:
        return SourceItem(locator=f"{path}#L{number}", kind="url", source_name=source["name"],
                          source=source["name"], license=source["license"],
                          error="bad_row", detail=f"line {number} is not a JSON object")
    url = _text(row.get(column)).strip()
    extra = {k: v for k, v in row.items() if k not in (column, "license", "source")}
    item = SourceItem(
        locator=url or f"{path}#L{number}", kind="url", source_name=source["name"],
        source=_text(row.get("source")) or source["name"],
        license=_text(row.get("license")) or source["license"],
        extra=json.dumps(extra, sort_keys=True, default=str, ensure_ascii=False),
    )
    problem = url_problem(url)
    if problem:
        item.error, item.detail = "bad_url", f"row {number}: {problem}"
    return item


def list_url_items(source: dict) -> list[SourceItem]:
    """Every row of the list as an item; rows without a usable URL carry `bad_url`."""
    path = source["urls"]
    items = []
    for number, row in _rows(path):
        if row is not None and "__columns__" in row:
            if source["url_column"] not in row["__columns__"]:
                raise ConfigError(path, f"no '{source['url_column']}' column "
                                        f"(columns: {', '.join(map(str, row['__columns__']))})")
            continue
        items.append(_item(source, path, number, row))
    return items
