"""Pixels an auditor looks at: stored patches, paired members, source images, and dropped
cells cut again with the patch stage's decode (so they equal what it measured)."""

from __future__ import annotations

import numpy as np

from irdata.imaging.decode import decode_rgb
from irdata.imaging.sniff import extension
from irdata.shards import named_members
from irdata.storage import Output


def source_images(out: Output, images: list[dict]) -> dict[str, np.ndarray]:
    """image_id -> decoded source (oriented RGB) for usable images of the raw shards."""
    by_shard: dict[str, list[dict]] = {}
    for row in images:
        by_shard.setdefault(row["shard"], []).append(row)
    decoded = {}
    for shard, rows in by_shard.items():
        names = {f"{r['image_id']}.{extension(r['format'])}": r for r in rows}
        for name, data in named_members(out, shard, set(names)).items():
            row = names[name]
            decoded[row["image_id"]] = decode_rgb(data, row["format"])
    return decoded


def cut(source: np.ndarray, patch: dict) -> np.ndarray:
    """The grid cell of a patches row from its decoded source."""
    x, y, size = patch["x"], patch["y"], patch["size"]
    return np.ascontiguousarray(source[y:y + size, x:x + size])


def stored_patches(out: Output, patches: list[dict]) -> dict[str, bytes]:
    """key -> stored PNG bytes of kept patches rows."""
    by_shard: dict[str, list[str]] = {}
    for row in patches:
        by_shard.setdefault(row["shard"], []).append(row["key"])
    found = {}
    for shard, keys in by_shard.items():
        members = named_members(out, shard, {f"{k}.png" for k in keys})
        found.update({name.split(".")[0]: data for name, data in members.items()})
    return found
