"""The report's numbers, columnar over whole tables (pyarrow): millions of rows stay cheap."""

from __future__ import annotations

import re
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from irdata.patching.figures import CELL_GATES, CELL_REASONS
from irdata.quality import gates as source_gates
from irdata.stages import ORDER, STAGES

# Reasons of `dropped` images that never got decoded pixels.
NOT_DECODED = ("optout", "too_large", "empty", "html", "not_an_image", "unsupported_format",
               "truncated", "decode_error", "decompression_bomb")
# Each judged source figure, in gates.FIGURES order: (the `quality` setting it is
# shown against, the reason of its gate).
QUALITY_GATES = {figure: source_gates.FIGURE_GATES[figure] for figure in source_gates.FIGURES
                 if figure in source_gates.FIGURE_GATES}


def _true(mask) -> pa.ChunkedArray:
    return pc.fill_null(mask, False)


def _count(mask) -> int:
    return int(pc.sum(_true(mask)).as_py() or 0)


def floats(column) -> np.ndarray:
    """A numeric column as float64, NaN where null."""
    return pc.fill_null(pc.cast(column, pa.float64()), float("nan")).to_numpy()


def figure_values(table: pa.Table, name: str) -> np.ndarray:
    """A figure column of a table as float64 (empty when an older build lacks it)."""
    if name not in table.column_names:
        return np.empty(0)
    return floats(table[name])


def masks(images: pa.Table) -> dict[str, pa.ChunkedArray]:
    """The funnel's boolean columns over the images table."""
    fetched = pc.not_equal(images["status"], "failed")
    decoded = pc.and_(fetched, pc.invert(pc.is_in(images["reason"], pa.array(NOT_DECODED))))
    usable = pc.equal(images["status"], "ok")
    return {"fetched": _true(fetched), "decoded": _true(decoded), "usable": _true(usable),
            "unique": _true(pc.and_(usable, pc.is_null(images["dup_of"])))}


def funnel(images: pa.Table, patches: pa.Table) -> list[tuple[str, int]]:
    """Source items -> fetched -> decoded -> usable -> unique -> grid cells -> kept."""
    found = masks(images)
    return [("source items", images.num_rows), ("fetched", _count(found["fetched"])),
            ("decoded", _count(found["decoded"])),
            ("usable (size, quality)", _count(found["usable"])),
            ("unique", _count(found["unique"])), ("grid cells", patches.num_rows),
            ("kept patches", _count(patches["kept"]))]


def _by(table: pa.Table, mask, column: str) -> list[tuple[str, int]]:
    """(value, rows) of `column` where `mask` holds, most frequent first."""
    chosen = table.filter(_true(mask)).group_by(column).aggregate([([], "count_all")])
    pairs = zip(chosen[column].to_pylist(), chosen["count_all"].to_pylist(), strict=True)
    return sorted(((str(v), n) for v, n in pairs), key=lambda t: (-t[1], t[0]))


def drops(images: pa.Table, patches: pa.Table) -> list[tuple[str, str, int]]:
    """(stage, reason, count) of everything not kept, in stage order."""
    status, outcome = images["status"], images["patch_status"]
    cut_failed = pc.and_(pc.is_valid(outcome),
                         pc.invert(pc.is_in(outcome, pa.array(["cut", "duplicate"]))))
    found = [("fetch", r, n) for r, n in _by(images, pc.equal(status, "failed"), "reason")]
    found += [("inspect", r, n) for r, n in _by(images, pc.equal(status, "dropped"), "reason")]
    duplicates = _count(pc.and_(pc.equal(status, "ok"), pc.is_valid(images["dup_of"])))
    found += [("dedupe", "duplicate", duplicates)] if duplicates else []
    found += [("patch", f"image:{r}", n) for r, n in _by(images, cut_failed, "patch_status")]
    return found + [("patch", r, n) for r, n in _by(patches, pc.invert(patches["kept"]),
                                                     "reason")]


def by_field(images: pa.Table, patches: pa.Table, field: str) -> list[tuple]:
    """(value, items, usable, kept patches) per value of `field` (source_name, license)."""
    values = pc.fill_null(images[field], "")
    values = pc.if_else(pc.equal(values, ""), "(none)", values)
    table = pa.table({"image_id": images["image_id"], "value": values,
                      "usable": pc.cast(pc.equal(images["status"], "ok"), pa.int64())})
    kept = (patches.filter(_true(patches["kept"])).group_by("image_id")
            .aggregate([([], "count_all")]).rename_columns(["image_id", "kept"]))
    joined = table.join(kept, "image_id", join_type="left outer")
    totals = joined.group_by("value").aggregate(
        [([], "count_all"), ("usable", "sum"), ("kept", "sum")])
    rows = zip(totals["value"].to_pylist(), totals["count_all"].to_pylist(),
               totals["usable_sum"].to_pylist(), totals["kept_sum"].to_pylist(), strict=True)
    return sorted(((v, n, u or 0, k or 0) for v, n, u, k in rows), key=lambda t: (-t[1], t[0]))


def megapixels(images: pa.Table) -> np.ndarray:
    """Width x height / 1e6 of every decoded image."""
    decoded = images.filter(masks(images)["decoded"])
    return floats(decoded["width"]) * floats(decoded["height"]) / 1e6


def cluster_sizes(clusters: pa.Table | None) -> list[tuple[str, int]]:
    """(cluster size, number of clusters of that size)."""
    if clusters is None or clusters.num_rows == 0:
        return []
    sizes = clusters.group_by("cluster_id").aggregate([([], "count_all")])
    counted = sizes.group_by("count_all").aggregate([([], "count_all")])
    pairs = zip(counted.column(0).to_pylist(), counted.column(1).to_pylist(), strict=True)
    return [(f"{size} images", n) for size, n in sorted(pairs)]


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
        folder = STAGES[name].writes
        paths = out.fs.glob(out.path(folder, "*stats.json")) if out.exists(folder) else []
        names = [p.rsplit("/", 1)[-1] for p in paths]
        names = [n for n in names if re.fullmatch(r"(\d+\.)?stats\.json", n)]
        if names:
            found.append((name, sum(float(out.read_json(f"{folder}/{n}").get("seconds", 0))
                                    for n in names)))
    return found


def thresholds(run: dict) -> dict[str, tuple[str, float]]:
    """figure -> (setting name, value) from the run's `quality` settings."""
    quality = run.get("config", {}).get("quality") or {}
    return {figure: (setting, quality[setting]) for figure, (setting, _) in QUALITY_GATES.items()
            if setting in quality}


def cell_settings(run: dict) -> dict:
    """The run's `patch` settings ({} when run.json has none)."""
    return run.get("config", {}).get("patch") or {}


def cell_thresholds(run: dict) -> dict[str, tuple[str, float]]:
    """Per-cell figure -> (setting name, value) from the run's `patch` settings."""
    patch = cell_settings(run)
    return {figure: (setting, patch[setting]) for figure, (setting, _, _) in CELL_GATES.items()
            if patch.get(setting) is not None}


def cell_drops(patches: pa.Table) -> dict[str, int]:
    """Dropped cells per reason: CELL_REASONS first, then others (an older build's) by count."""
    found = dict(_by(patches, pc.invert(patches["kept"]), "reason"))
    ordered = {r: found.pop(r) for r in CELL_REASONS if r in found}
    return ordered | found


def _fails(value, limit, direction: str) -> bool:
    if value is None or limit is None or value != value:  # None or NaN never fails
        return False
    return value > limit if direction == "above" else value < limit


def cell_gate(row: dict, settings: dict) -> dict | None:
    """The gate a dropped patches row failed under `settings`: its reason's first failing
    figure (else its first figure); None if kept or no per-cell gate gives the reason."""
    if row.get("kept") or not row.get("reason"):
        return None
    found = None
    for figure, (setting, direction, reason) in CELL_GATES.items():
        if reason != row["reason"]:
            continue
        gate = {"figure": figure, "value": row.get(figure), "setting": setting,
                "limit": settings.get(setting), "direction": direction}
        gate["fails"] = _fails(gate["value"], gate["limit"], direction)
        if gate["fails"]:
            return gate
        found = found or gate
    return found


def _figure(value) -> str:
    return "-" if value is None or value != value else f"{value:.4g}"


def gate_text(gate: dict, with_setting: bool = True) -> str:
    """'noise 2.837 > max_noise 1.5' (the setting's name left out when not
    `with_setting`); says so when the threshold is unknown or not broken."""
    value = f"{gate['figure']} {_figure(gate['value'])}"
    if gate["limit"] is None:
        return f"{value} ({gate['setting']} unknown: not in run.json)"
    limit = f"{gate['setting']} {gate['limit']:g}" if with_setting else f"{gate['limit']:g}"
    if gate["fails"]:
        return f"{value} {'>' if gate['direction'] == 'above' else '<'} {limit}"
    return f"{value}, {limit} (not broken under run.json's settings)"
