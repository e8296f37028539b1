"""HTML contact sheets of inline thumbnails: kept, dropped (per reason), clusters, pairs."""

from __future__ import annotations

import base64
import os
from html import escape

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from irdata.audit import counts, pixels
from irdata.imaging.decode import decode_png
from irdata.shards import named_members

THUMB = 160  # thumbnail side, pixels
KEPT, DROPPED, CLUSTERS, PAIRED = 24, 12, 3, 4  # how many of each a sheet shows
DROPPED_SOURCES = 4  # dropped cells (per reason) are cut again from at most this many sources


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


def spread(rows, count: int) -> list:
    """`count` items evenly spaced over `rows` (deterministic)."""
    if len(rows) <= count:
        return list(rows)
    return [rows[i * len(rows) // count] for i in range(count)]


def pick(table: pa.Table, mask, count: int) -> list[dict]:
    """`count` rows evenly spaced over the rows where `mask` holds."""
    chosen = table.filter(pc.fill_null(mask, False))
    return chosen.take(pa.array(spread(range(chosen.num_rows), count), pa.int64())).to_pylist()


def image_rows(images: pa.Table, ids) -> dict[str, dict]:
    """image_id -> images row, for a few ids."""
    found = images.filter(pc.is_in(images["image_id"], pa.array(list(ids), pa.string())))
    return {row["image_id"]: row for row in found.to_pylist()}


def kept_sheet(out, patches: pa.Table) -> str:
    chosen = pick(patches, patches["kept"], KEPT)
    stored = pixels.stored_patches(out, chosen)
    tiles = [tile(decode_png(stored[p["key"]]), f"flat {p['flat_fraction']:.2f}",
                  p["key"]) for p in chosen if p["key"] in stored]
    return sheet(tiles, "no kept patches")


def _dropped_tiles(out, images: pa.Table, patches: pa.Table, reason: str,
                   settings: dict) -> list[str]:
    """Cells dropped for `reason`, cut again; captions name the failed figure and threshold."""
    mine = pc.and_(pc.invert(patches["kept"]), pc.equal(patches["reason"], reason))
    ids = sorted(pc.unique(patches.filter(pc.fill_null(mine, False))["image_id"]).to_pylist())
    sources = spread(ids, DROPPED_SOURCES)
    mine = pc.and_(mine, pc.is_in(patches["image_id"], pa.array(sources, pa.string())))
    chosen = pick(patches, mine, DROPPED)
    rows = [r for r in image_rows(images, sources).values() if r["shard"]]
    decoded = pixels.source_images(out, rows)
    tiles = []
    for p in chosen:
        if p["image_id"] in decoded:
            gate = counts.cell_gate(p, settings)
            caption = counts.gate_text(gate, with_setting=False) if gate else reason
            tooltip = f"{p['key']}: {counts.gate_text(gate) if gate else reason}"
            tiles.append(tile(pixels.cut(decoded[p["image_id"]], p), caption, tooltip))
    return tiles


def dropped_sheets(out, images: pa.Table, patches: pa.Table, settings: dict
                   ) -> list[tuple[str, str]]:
    """(reason, sheet) per drop reason that occurs; one reason's sources decoded at a time."""
    return [(reason, sheet(_dropped_tiles(out, images, patches, reason, settings),
                           f"no cell dropped as {reason} could be cut again"))
            for reason in counts.cell_drops(patches)]


def _name(locator: str) -> str:
    return os.path.basename(locator.split("!")[-1]) or locator


def cluster_sheets(out, images: pa.Table, clusters: pa.Table | None) -> str:
    """A few duplicate clusters, keeper first, each on its own row."""
    if clusters is None or clusters.num_rows == 0:
        return sheet([], "no duplicate clusters")
    chosen = spread(sorted(pc.unique(clusters["cluster_id"]).to_pylist()), CLUSTERS)
    groups: dict[str, list[dict]] = {}
    for row in clusters.filter(pc.is_in(clusters["cluster_id"], pa.array(chosen))).to_pylist():
        groups.setdefault(row["cluster_id"], []).append(row)
    images = image_rows(images, [r["image_id"] for c in chosen for r in groups[c]])
    decoded = pixels.source_images(out, [m for m in images.values() if m["shard"]])
    rows = []
    for cluster in chosen:
        ordered = sorted(groups[cluster], key=lambda r: (not r["keeper"], r["image_id"]))
        tiles = [tile(decoded[r["image_id"]], _caption(r, images[r["image_id"]]),
                      images[r["image_id"]]["locator"])
                 for r in ordered if r["image_id"] in decoded]
        rows.append(sheet(tiles, ""))
    return "".join(rows)


def _caption(row: dict, image: dict) -> str:
    """Keeper or match and distance, size, file name, and what the keeper won on if known."""
    size = f"{image['width']}x{image['height']}"
    why = row.get("keeper_reason")
    if row["keeper"]:
        return f"keeper {size} {_name(image['locator'])}" + (f" (won on {why})" if why else "")
    return (f"{row['match']} d={row['distance']} {size} {_name(image['locator'])}"
            + (f" (keeper won on {why})" if why else ""))


def paired_sheets(out, degradations: pa.Table) -> str:
    """gt with its variants, a row per paired patch."""
    keys = spread(sorted(pc.unique(degradations["key"]).to_pylist()), PAIRED)
    by_key: dict[str, list[dict]] = {}
    for row in degradations.filter(pc.is_in(degradations["key"], pa.array(keys))).to_pylist():
        by_key.setdefault(row["key"], []).append(row)
    rows = []
    for key in keys:
        variants = sorted(by_key[key], key=lambda r: r["variant"])
        names = {f"{key}.gt.png"} | {f"{key}.lq.{v['variant']}.png" for v in variants}
        found = named_members(out, variants[0]["shard"], names)
        labelled = [("gt", f"{key}.gt.png", key)] + [
            (f"lq.{v['variant']} {v['kind']}", f"{key}.lq.{v['variant']}.png", v["params"])
            for v in variants]
        rows.append(sheet([tile(decode_png(found[name]), caption, tooltip)
                           for caption, name, tooltip in labelled if name in found], ""))
    return "".join(rows)
