"""Shard lists from what a trainer types: a folder, a brace pattern, a glob, a list,
or fsspec URLs of any of these (`s3://bucket/patches/{00000..00099}.tar`)."""

from __future__ import annotations

import fsspec
from braceexpand import braceexpand


def _expand_one(spec: str) -> list[str]:
    spec = spec.strip()
    if not spec:
        return []
    if "{" in spec:
        return [url for part in braceexpand(spec) for url in _expand_one(part)]
    fs, path = fsspec.core.url_to_fs(spec)
    protocol = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    prefix = "" if protocol in ("file", "local") else f"{protocol}://"
    if any(ch in path for ch in "*?["):
        return [prefix + p for p in sorted(fs.glob(path))]
    if fs.isdir(path):
        return [prefix + p for p in sorted(fs.glob(path.rstrip("/") + "/*.tar"))]
    return [spec]


def expand(spec: str | list[str]) -> list[str]:
    """Every shard URL the spec names, in order; ValueError if it names none."""
    parts = spec if isinstance(spec, (list, tuple)) else str(spec).split("::")
    urls = [url for part in parts for url in _expand_one(str(part))]
    if not urls:
        raise ValueError(f"no shards found for {spec!r}")
    return urls


def check_exist(urls: list[str]) -> list[str]:
    """The URLs that do not exist (checked through fsspec)."""
    missing = []
    for url in urls:
        fs, path = fsspec.core.url_to_fs(url)
        if not fs.exists(path):
            missing.append(url)
    return missing
