"""The numbers behind the report, computed from the manifest tables and run.json."""

from __future__ import annotations

import re
from collections import Counter
from datetime import datetime

from irdata.stages import ORDER, STAGES

# Reasons of `dropped` images that never got decoded pixels.
NOT_DECODED = {"optout", "too_large", "empty", "html", "not_an_image", "unsupported_format",
               "truncated", "decode_error", "decompression_bomb"}
# Each source quality figure, the `quality` setting it is judged by, and the gate reason.
QUALITY_GATES = {
    "jpeg_quality": ("min_jpeg_quality", "low_jpeg_quality"),
    "sharpness": ("min_sharpness", "blurry"),
    "highlights": ("min_highlights", "too_dark"),
    "flat_share": ("graphics_flat_share", "graphics"),
    "palette_share": ("graphics_palette_share", "graphics"),
    "brightness": ("max_brightness", "too_bright"),
    "clipped": ("max_clipped", "clipped"),
    "noise": ("max_noise", "noisy"),
}


def funnel(images: list[dict], patches: list[dict]) -> list[tuple[str, int]]:
    """Source items -> fetched -> decoded -> usable -> unique -> grid cells -> kept."""
    fetched = [r for r in images if r["status"] != "failed"]
    decoded = [r for r in fetched if r["reason"] not in NOT_DECODED]
    usable = [r for r in decoded if r["status"] == "ok"]
    unique = [r for r in usable if not r.get("dup_of")]
    return [("source items", len(images)), ("fetched", len(fetched)),
            ("decoded", len(decoded)), ("usable (size, quality)", len(usable)),
            ("unique", len(unique)), ("grid cells", len(patches)),
            ("kept patches", sum(1 for p in patches if p["kept"]))]


def drops(images: list[dict], patches: list[dict]) -> list[tuple[str, str, int]]:
    """(stage, reason, count) of everything not kept, in stage order."""
    found: Counter = Counter()
    for row in images:
        if row["status"] == "failed":
            found[("fetch", row["reason"])] += 1
        elif row["status"] == "dropped":
            found[("inspect", row["reason"])] += 1
        elif row.get("dup_of"):
            found[("dedupe", "duplicate")] += 1
        elif row.get("patch_status") not in (None, "cut", "duplicate"):
            found[("patch", f"image:{row['patch_status']}")] += 1
    for row in patches:
        if not row["kept"]:
            found[("patch", row["reason"])] += 1
    order = ["fetch", "inspect", "dedupe", "patch"]
    return sorted(((s, r, n) for (s, r), n in found.items()),
                  key=lambda t: (order.index(t[0]), -t[2], t[1]))


def by_field(images: list[dict], patches: list[dict], field: str) -> list[tuple]:
    """(value, items, usable, kept patches) per value of `field` (source_name, license)."""
    of_image = {r["image_id"]: r.get(field) or "(none)" for r in images}
    kept = Counter(of_image.get(p["image_id"]) for p in patches if p["kept"])
    items = Counter(of_image.values())
    usable = Counter(of_image[r["image_id"]] for r in images if r["status"] == "ok")
    return [(value, n, usable[value], kept[value]) for value, n in items.most_common()]


def megapixels(images: list[dict]) -> list[float]:
    return [r["width"] * r["height"] / 1e6 for r in images
            if r["width"] and r["height"] and r["reason"] not in NOT_DECODED]


def cluster_sizes(clusters: list[dict]) -> list[tuple[str, int]]:
    """(cluster size, number of clusters of that size)."""
    sizes = Counter(Counter(r["cluster_id"] for r in clusters).values())
    return [(f"{size} images", count) for size, count in sorted(sizes.items())]


def _seconds(times: dict) -> float | None:
    if "seconds" in times:
        return float(times["seconds"])
    try:
        parse = [datetime.strptime(times[k], "%Y-%m-%dT%H:%M:%S%z")
                 for k in ("started", "finished")]
    except (KeyError, TypeError, ValueError):
        return None
    return (parse[1] - parse[0]).total_seconds()


def stage_seconds(run: dict) -> list[tuple[str, float]]:
    """Wall seconds per stage of the last build, from run.json."""
    times = run.get("stage_times", {})
    found = [(name, _seconds(times[name])) for name in ORDER if name in times]
    return [(name, seconds) for name, seconds in found if seconds is not None]


def task_seconds(out) -> list[tuple[str, float]]:
    """Seconds summed over every partition's stats.json, per stage (all builds)."""
    found = []
    for name in ORDER:
        folder = STAGES[name].FOLDER
        paths = out.fs.glob(out.path(folder, "*stats.json")) if out.exists(folder) else []
        total = 0.0
        for path in paths:
            rel = f"{folder}/{path.rsplit('/', 1)[-1]}"
            if re.fullmatch(r"(\d+\.)?stats\.json", rel.split("/")[-1]):
                total += float(out.read_json(rel).get("seconds", 0))
        if paths:
            found.append((name, total))
    return found


def thresholds(run: dict) -> dict[str, tuple[str, float]]:
    """figure -> (setting name, value) from the run's `quality` settings."""
    quality = run.get("config", {}).get("quality") or {}
    return {figure: (setting, quality[setting]) for figure, (setting, _) in QUALITY_GATES.items()
            if setting in quality}
