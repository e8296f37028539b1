"""Contact sheets as HTML: thumbnails inlined as data: URIs, one caption each."""

from __future__ import annotations

import base64
import os
from html import escape

import cv2
import numpy as np

from irdata.audit import pixels

THUMB = 160  # thumbnail side, pixels
KEPT, FLAT, CLUSTERS, PAIRED = 24, 12, 3, 4  # how many of each a sheet shows
FLAT_SOURCES = 4  # dropped cells are cut again from at most this many sources


def thumb_uri(rgb: np.ndarray, side: int = THUMB) -> str:
    """A JPEG data: URI of `rgb` fitted into side x side."""
    height, width = rgb.shape[:2]
    scale = min(side / width, side / height, 1.0)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, 88])
    return "data:image/jpeg;base64," + base64.b64encode(buf.tobytes()).decode("ascii")


def tile(rgb: np.ndarray, caption: str, tooltip: str = "") -> str:
    return (f'<figure><img src="{thumb_uri(rgb)}" alt="{escape(caption)}" '
            f'title="{escape(tooltip or caption)}"><figcaption>{escape(caption)}'
            "</figcaption></figure>")


def sheet(tiles: list[str], empty: str) -> str:
    if not tiles:
        return f'<p class="empty">{escape(empty)}</p>'
    return '<div class="sheet">' + "".join(tiles) + "</div>"


def spread(rows: list, count: int) -> list:
    """`count` rows evenly spaced over `rows` (deterministic)."""
    if len(rows) <= count:
        return list(rows)
    return [rows[i * len(rows) // count] for i in range(count)]


def kept_sheet(out, patches: list[dict]) -> str:
    chosen = spread([p for p in patches if p["kept"]], KEPT)
    stored = pixels.stored_patches(out, chosen)
    tiles = [tile(pixels.decode_png(stored[p["key"]]), f"flat {p['flat_fraction']:.2f}",
                  p["key"]) for p in chosen if p["key"] in stored]
    return sheet(tiles, "no kept patches")


def flat_sheet(out, images: dict[str, dict], patches: list[dict]) -> str:
    """Dropped-as-flat cells, cut again from a few of their sources."""
    flat = [p for p in patches if not p["kept"] and p["reason"] == "flat"]
    sources = spread(sorted({p["image_id"] for p in flat}), FLAT_SOURCES)
    chosen = spread([p for p in flat if p["image_id"] in set(sources)], FLAT)
    decoded = pixels.source_images(out, [images[i] for i in sources if images[i]["shard"]])
    tiles = [tile(pixels.cut(decoded[p["image_id"]], p), f"flat {p['flat_fraction']:.2f}",
                  p["key"]) for p in chosen if p["image_id"] in decoded]
    return sheet(tiles, "no patch was dropped as flat")


def _name(locator: str) -> str:
    return os.path.basename(locator.split("!")[-1]) or locator


def cluster_sheets(out, images: dict[str, dict], clusters: list[dict]) -> str:
    """A few duplicate clusters, keeper first, each on its own row."""
    groups: dict[str, list[dict]] = {}
    for row in clusters:
        groups.setdefault(row["cluster_id"], []).append(row)
    chosen = spread(sorted(groups), CLUSTERS)
    members = [images[r["image_id"]] for c in chosen for r in groups[c]]
    decoded = pixels.source_images(out, [m for m in members if m["shard"]])
    rows = []
    for cluster in chosen:
        ordered = sorted(groups[cluster], key=lambda r: (not r["keeper"], r["image_id"]))
        tiles = [tile(decoded[r["image_id"]], _caption(r, images[r["image_id"]]),
                      images[r["image_id"]]["locator"])
                 for r in ordered if r["image_id"] in decoded]
        rows.append(sheet(tiles, ""))
    return "".join(rows) or sheet([], "no duplicate clusters")


def _caption(row: dict, image: dict) -> str:
    size = f"{image['width']}x{image['height']}"
    if row["keeper"]:
        return f"keeper {size} {_name(image['locator'])}"
    return f"{row['match']} d={row['distance']} {size} {_name(image['locator'])}"


def paired_sheets(out, degradations: list[dict]) -> str:
    """gt with its variants, a row per paired patch."""
    by_key: dict[str, list[dict]] = {}
    for row in degradations:
        by_key.setdefault(row["key"], []).append(row)
    rows = []
    for key in spread(sorted(by_key), PAIRED):
        variants = sorted(by_key[key], key=lambda r: r["variant"])
        names = {f"{key}.gt.png"} | {f"{key}.lq.{v['variant']}.png" for v in variants}
        found = pixels.read_members(out, variants[0]["shard"], names)
        labelled = [("gt", f"{key}.gt.png", key)] + [
            (f"lq.{v['variant']} {v['kind']}", f"{key}.lq.{v['variant']}.png", v["params"])
            for v in variants]
        rows.append(sheet([tile(pixels.decode_png(found[name]), caption, tooltip)
                           for caption, name, tooltip in labelled if name in found], ""))
    return "".join(rows)
