"""`irdata show OUT KEY`: where one patch came from, from the manifest tables alone."""

from __future__ import annotations

import hashlib
import os

from irdata.audit import counts, pixels, tables
from irdata.errors import UsageError
from irdata.imaging.encode import encode_png
from irdata.patching.figures import FIGURES

IMAGE_FIELDS = (("image_id", "image_id"), ("locator", "locator"), ("source", "source"),
                ("source_name", "source_name"), ("license", "license"), ("width", "width"),
                ("height", "height"), ("format", "format"), ("image sha256", "sha256"),
                ("dup cluster", "cluster_id"))


def lineage(out, key: str) -> dict:
    """The patch row, its source image row and its degradation rows."""
    found = tables.rows(tables.read(out, "patches", filters=[("key", "==", key)]))
    if not found:
        raise UsageError(f"unknown key {key!r}: not in manifest/patches.parquet "
                         "(a patch key looks like IMAGEID_YYYYY_XXXXX)")
    patch = found[0]
    images = tables.rows(tables.read(out, "images", filters=[("image_id", "==",
                                                              patch["image_id"])]))
    degradations = tables.rows(tables.read(out, "degradations", filters=[("key", "==", key)]))
    return {"patch": patch, "image": images[0] if images else {},
            "degradations": sorted(degradations, key=lambda r: r["variant"]),
            "settings": counts.cell_settings(tables.run_record(out))}


def _variant(row: dict) -> str:
    return f"lq.{row['variant']}: {row['kind']} {row['params']} seed {row['seed']} ({row['shard']})"


def _figure(value) -> str:
    return "-" if value is None else f"{value:.4f}"


def _failed(patch: dict, settings: dict) -> str:
    """The gate a dropped cell failed, with the threshold it broke; '-' when kept."""
    if patch["kept"]:
        return "-"
    gate = counts.cell_gate(patch, settings)
    return f"{patch['reason']}: {counts.gate_text(gate)}" if gate else patch["reason"]


def describe(info: dict) -> str:
    """Aligned `name  value` lines."""
    patch, image = info["patch"], info["image"]
    status = "kept" if patch["kept"] else f"dropped ({patch['reason']})"
    lines = [("key", patch["key"]), *[(label, image.get(f)) for label, f in IMAGE_FIELDS],
             ("x, y, size", f"{patch['x']}, {patch['y']}, {patch['size']}"),
             *[(name, _figure(patch.get(name))) for name in FIGURES],
             ("status", status), ("failed gate", _failed(patch, info.get("settings", {}))),
             ("shard", patch["shard"] or "-"), ("patch sha256", patch["sha256"] or "-")]
    variants = [_variant(r) for r in info["degradations"]] or ["none"]
    lines += [("degradations" if i == 0 else "", text) for i, text in enumerate(variants)]
    return "\n".join(f"{name:<14} {'-' if value is None else value}" for name, value in lines)


def patch_png(out, info: dict) -> bytes:
    """A kept patch's stored PNG (sha256 checked), or a dropped cell cut again from its source."""
    patch = info["patch"]
    if patch["kept"]:
        data = pixels.stored_patches(out, [patch]).get(patch["key"])
        if data is None or hashlib.sha256(data).hexdigest() != patch["sha256"]:
            raise UsageError(f"{patch['shard']}: stored patch {patch['key']} is missing or "
                             "differs from the manifest (run irdata verify)")
        return data
    if info["image"].get("shard") is None:
        raise UsageError(f"{patch['key']}: its source is not in a raw shard")
    source = pixels.source_images(out, [info["image"]])[patch["image_id"]]
    return encode_png(pixels.cut(source, patch))


def show(root: str, key: str, png: str | None = None) -> str:
    """The lineage text; with `png`, also write the patch there."""
    out = tables.open_output(root)
    info = lineage(out, key)
    text = describe(info)
    if png:
        folder = os.path.dirname(os.path.abspath(png))
        if not os.path.isdir(folder):
            raise UsageError(f"--png: no such folder: {folder}")
        with open(png, "wb") as fh:
            fh.write(patch_png(out, info))
        text += f"\n{'png':<14} {png}"
    return text
