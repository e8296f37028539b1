"""Stable identifiers: image ids and partition names."""

import hashlib


def image_id(locator: str) -> str:
    """16 hex chars of sha256 of the source locator (URL, path or archive!member)."""
    return hashlib.sha256(locator.encode("utf-8")).hexdigest()[:16]


def partition_name(index: int) -> str:
    """Zero-padded partition name used for every per-partition output file."""
    return f"{index:05d}"


def patch_key(image: str, y: int, x: int) -> str:
    """`{image_id}_{y:05d}_{x:05d}`: no dots, since WebDataset splits keys at the first dot."""
    return f"{image}_{y:05d}_{x:05d}"
