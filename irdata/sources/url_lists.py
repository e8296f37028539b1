"""URL lists (CSV, TSV, Parquet, JSONL) to SourceItems; every row becomes an item."""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator
from urllib.parse import urlsplit

import pyarrow.parquet as pq

from irdata.errors import ConfigError
from irdata.sources.item import SourceItem

MAX_URL_LENGTH = 8192
csv.field_size_limit(16 * 1024 * 1024)


# Each reader returns (columns, rows): `columns` is None for JSONL, which has no
# header; rows are (line or row number, mapping, or a str saying why the line is
# not a row).
Rows = tuple[list[str] | None, Iterator[tuple[int, dict | str]]]


def _open_text(path: str):
    # utf-8-sig: a byte-order mark (Excel) must not become part of the first column name.
    return open(path, newline="", encoding="utf-8-sig", errors="replace")


def _csv_line(line: str, delimiter: str) -> list[str] | None:
    """One physical line as CSV fields (None: unparsable); an open quote ends with it."""
    try:
        return next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:
        return None


def _csv_rows(path: str, delimiter: str) -> Rows:
    """One row per physical line (quoted fields cannot span lines)."""
    with _open_text(path) as fh:
        header = _csv_line(fh.readline(), delimiter) or []
    columns = [name.strip() for name in header]

    def rows() -> Iterator[tuple[int, dict | str]]:
        with _open_text(path) as fh:
            fh.readline()
            for number, line in enumerate(fh, start=2):
                values = _csv_line(line, delimiter)
                if values is None:
                    yield number, f"line {number} is not a CSV row"
                elif values:  # blank lines are not rows
                    values += [None] * (len(columns) - len(values))
                    yield number, dict(zip(columns, values, strict=False))

    return columns, rows()


def _jsonl_rows(path: str) -> Rows:
    def rows() -> Iterator[tuple[int, dict | str]]:
        with _open_text(path) as fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except (ValueError, RecursionError):  # RecursionError: "[[[[..." nesting
                    row = None
                yield number, row if isinstance(row, dict) else (
                    f"line {number} is not a JSON object")

    return None, rows()


def _parquet_rows(path: str) -> Rows:
    table = pq.read_table(path)
    return list(table.column_names), enumerate(table.to_pylist(), start=1)


def _rows(path: str) -> Rows:
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


def _check_column(path: str, column: str, columns: list[str]) -> None:
    if not columns:
        raise ConfigError(path, f"the URL list is empty (it needs a '{column}' column)")
    if column not in columns:
        raise ConfigError(path, f"no '{column}' column (columns: {', '.join(map(str, columns))})")


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


def _json_safe(value):
    """NaN and infinities (Parquet floats) become null: `extra` stays strict JSON."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def _item(source: dict, path: str, number: int, row: dict | str) -> SourceItem:
    column = source["url_column"]
    if isinstance(row, str):
        return SourceItem(locator=f"{path}#L{number}", kind="url", source_name=source["name"],
                          source=source["name"], license=source["license"],
                          error="bad_row", detail=row)
    url = _text(row.get(column)).strip()
    extra = {k: _json_safe(v) for k, v in row.items() if k not in (column, "license", "source")}
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
    """Every row as an item (without a usable URL: `bad_url`); no URL column at all (in
    JSONL: no object with that key) is a ConfigError naming the file and its columns."""
    path, column = source["urls"], source["url_column"]
    shown = source.get("list_url") or path  # a store's list is read from a local copy
    columns, rows = _rows(path)
    if columns is not None:
        _check_column(shown, column, columns)
    items, keys = [], set()
    for number, row in rows:
        if isinstance(row, dict):
            keys.update(map(str, row))
        items.append(_item(source, shown, number, row))
    if columns is None and (keys or not items):
        _check_column(shown, column, sorted(keys))
    return items
