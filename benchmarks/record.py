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
    row = f"| {time.strftime('%Y-%m-%d')} | {benchmark} | {data} | {setup} | {result} |\n"
    new = not os.path.exists(path)
    with open(path, "a", encoding="utf-8") as fh:
        if new:
            fh.write(HEADER)
        fh.write(row)
    return row.strip()
