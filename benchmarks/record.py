"""Append one benchmark result row to BENCHMARKS.md (created with its header)."""

from __future__ import annotations

import os
import platform
import time

HEADER = ("# Benchmarks\n\nAppended by the scripts in benchmarks/.\n\n"
          "| date | benchmark | data | setup | result |\n| --- | --- | --- | --- | --- |\n")


def machine() -> str:
    return f"{os.cpu_count()} cores, {platform.machine()}"


def append_result(benchmark: str, data: str, setup: str, result: str,
                  path: str = "BENCHMARKS.md") -> str:
    """Add one row at the end of the results table (before any section that
    follows it, such as the projection at the end of BENCHMARKS.md)."""
    row = f"| {time.strftime('%Y-%m-%d')} | {benchmark} | {data} | {setup} | {result} |\n"
    text = open(path, encoding="utf-8").read() if os.path.exists(path) else HEADER
    head, marker, tail = text.partition("\n## ")
    head = head if head.endswith("\n") else head + "\n"
    text = head + row + (marker.lstrip("\n") and "\n## " + tail)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    return row.strip()
