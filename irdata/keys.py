"""Stable identifiers: image ids and partition names."""

import hashlib


def image_id(locator: str) -> str:
    """16 hex chars of sha256 of the source locator (URL, path or archive!member)."""
    return hashlib.sha256(locator.encode("utf-8")).hexdigest()[:16]


def partition_name(index: int) -> str:
    """Zero-padded partition name used for every per-partition output file."""
    return f"{index:05d}"
