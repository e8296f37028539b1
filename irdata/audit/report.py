"""`irdata report OUT [--html FILE]`: one self-contained HTML page about a build. All is
inline (SVG, data: URIs, CSS, a render check script); a CSP forbids every network load."""

from __future__ import annotations

import os
from html import escape

import pyarrow.compute as pc

from irdata.audit import charts, counts, decontamination, sheets, tables
from irdata.errors import UsageError
from irdata.patching.figures import CELL_GATES, FIGURES
from irdata.stages import STAGES, degrade, patch

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:22px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ccc}
.charts{display:flex;flex-wrap:wrap;gap:12px}.chart{background:#fafafa;border:1px solid #e3e3e3}
table{border-collapse:collapse;margin:6px 0}
td,th{border:1px solid #ddd;padding:2px 8px;text-align:right}
td:first-child,th:first-child{text-align:left}
.sheet{display:flex;flex-wrap:wrap;gap:6px;margin:6px 0}
figure{margin:0;width:160px}figure img{display:block;max-width:160px;max-height:160px}
figcaption{font-size:11px;color:#555;overflow-wrap:anywhere}.empty{color:#777}
"""
CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
       "script-src 'unsafe-inline'")
CHECK = """addEventListener("load", () => {
  const images = [...document.images];
  const broken = images.filter(i => !i.complete || i.naturalWidth === 0).length;
  const drawn = [...document.querySelectorAll("svg.chart")]
    .filter(s => s.getBoundingClientRect().width > 0 && s.querySelector(".bar")).length;
  document.body.dataset.check = `charts=${drawn} images=${images.length} broken=${broken}`;
});"""


def _table(headers: list[str], rows: list[tuple]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in row) + "</tr>"
                   for row in rows)
    return f"<table>{f'<tr>{head}</tr>' if head else ''}{body}</table>"


def _section(title: str, *parts: str) -> str:
    return f"<section><h2>{escape(title)}</h2>{''.join(parts)}</section>"


def _charts(*svgs: str) -> str:
    return '<div class="charts">' + "".join(svgs) + "</div>"


def _header(out, run: dict) -> str:
    versions = run.get("versions", {})
    facts = [("output", out.root), ("host", run.get("host", "?")),
             ("seed", run.get("seed", "?")), ("started", run.get("started", "?")),
             ("finished", run.get("finished", "?")), ("ok", run.get("ok", "?")),
             ("irdata", versions.get("irdata", "?"))]
    return "<h1>irdata build report</h1>" + _table([], facts)


def _overview(data: dict) -> str:
    funnel, drops = data["funnel"], data["drops"]
    return (_section("Funnel", _charts(charts.bars(funnel, "source items to kept patches")),
                     _table(["step", "count"], funnel))
            + _section("Drop reasons per stage",
                       _charts(charts.bars([(f"{s}: {r}", n) for s, r, n in drops],
                                           "dropped, by stage and reason")),
                       _table(["stage", "reason", "count"], drops)))


def _sources(data: dict) -> str:
    heads = ["items", "usable", "kept patches"]
    return _section("Sources and licences",
                    _table(["source", *heads], data["sources"]),
                    _table(["licence", *heads], data["licenses"]))


def _distributions(data: dict) -> str:
    shards = data["shards"]
    shard_charts = [charts.histogram(
        counts.floats(shards.filter(pc.equal(shards["stage"], name))["bytes"]) / 1e6,
        f"{STAGES[name].writes} shard sizes", bins=10, unit="MB")
        for name in sorted(set(shards["stage"].to_pylist()))]
    return _section("Distributions", _charts(
        charts.histogram(counts.megapixels(data["images"]), "source resolution",
                         unit="megapixels"),
        charts.bars(counts.cluster_sizes(data["clusters"]), "duplicate clusters by size"),
        *shard_charts,
        charts.bars(counts.stage_seconds(data["run"]), "wall time per stage (last build)", " s"),
        charts.bars(counts.task_seconds(data["out"]), "task time per stage (all partitions)",
                    " s")))


def _quality(data: dict, run: dict) -> str:
    marks = counts.thresholds(run)
    dropped = {r: n for s, r, n in data["drops"] if s == "inspect"}
    svgs = []
    for figure, (setting, reason) in counts.QUALITY_GATES.items():
        mark = marks.get(figure)
        svgs.append(charts.histogram(
            counts.figure_values(data["images"], figure),
            f"{figure} ({dropped.get(reason, 0)} dropped as {reason})",
            threshold=mark[1] if mark else None,
            threshold_label=f"{setting} {mark[1]:g}" if mark else "", unit=figure))
    return _section("Source quality figures (threshold from the run's quality settings)",
                    _charts(*svgs))


def _cells(data: dict, run: dict) -> str:
    """A histogram of every per-cell figure over all grid cells, with its gate."""
    marks, dropped = counts.cell_thresholds(run), counts.cell_drops(data["patches"])
    svgs = []
    for figure in FIGURES:
        mark, gate = marks.get(figure), CELL_GATES.get(figure)
        title = f"{figure} of grid cells"
        if gate:
            title += f" ({dropped.get(gate[2], 0)} dropped as {gate[2]})"
        svgs.append(charts.histogram(
            counts.figure_values(data["patches"], figure), title,
            threshold=mark[1] if mark else None,
            threshold_label=f"{mark[0]} {mark[1]:g}" if mark else "", unit=figure))
    return _section("Grid cell quality figures (threshold from the run's patch settings)",
                    _charts(*svgs))


def _dropped(out, data: dict, run: dict) -> str:
    """A sheet per per-cell drop reason that occurs."""
    found = sheets.dropped_sheets(out, data["images"], data["patches"],
                                  counts.cell_settings(run))
    if not found:
        return _section("Dropped patches", sheets.sheet([], "no grid cell was dropped"))
    return "".join(_section(f"Patches dropped as {reason}", html) for reason, html in found)


def _sheets(out, data: dict, run: dict) -> str:
    images, patches = data["images"], data["patches"]
    parts = [_section("Kept patches", sheets.kept_sheet(out, patches)),
             _dropped(out, data, run),
             _section("Duplicate clusters (keeper first)",
                      sheets.cluster_sheets(out, images, data["clusters"]))]
    if data["degradations"].num_rows:
        parts.append(_section("Paired samples: gt and its variants",
                              sheets.paired_sheets(out, data["degradations"])))
    return "".join(parts)


def _decontamination(out, data: dict) -> str:
    """Evaluation-set matches, when the build had `exclude:` sets."""
    images = data["images"]
    if "excluded_set" not in images.schema.names or not out.exists("exclude"):
        return ""
    rows = decontamination.per_set(images, data["patches"])
    return _section("Decontamination (evaluation sets kept out)",
                    _table(["set", "images dropped whole", "images with a contained region",
                            "cells dropped"], rows) if rows else
                    sheets.sheet([], "no source matched an evaluation set"),
                    decontamination.match_sheet(out, images))


def _or_empty(table, schema):
    return schema.empty_table() if table is None else table


def gather(out) -> dict:
    """The tables (columnar) and the counts computed from them."""
    images = tables.read(out, "images")
    patches = _or_empty(tables.read(out, "patches"), patch.SCHEMA)
    return {"out": out, "images": images, "patches": patches, "run": tables.run_record(out),
            "shards": tables.read(out, "shards"), "clusters": tables.clusters(out),
            "degradations": _or_empty(tables.read(out, "degradations"), degrade.SCHEMA),
            "funnel": counts.funnel(images, patches), "drops": counts.drops(images, patches),
            "sources": counts.by_field(images, patches, "source_name"),
            "licenses": counts.by_field(images, patches, "license")}


def render(out) -> str:
    """The whole page."""
    data = gather(out)
    run = data["run"]
    body = (_header(out, run) + _overview(data) + _sources(data)
            + _distributions(data) + _cells(data, run) + _quality(data, run)
            + _decontamination(out, data) + _sheets(out, data, run))
    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f"<title>irdata report: {escape(out.root)}</title><style>{STYLE}</style>"
            f"<script>{CHECK}</script></head><body>{body}</body></html>")


def write_report(root: str, html: str | None = None) -> str:
    """Write the page to `html` (default OUT/report.html); return where it went."""
    out = tables.open_output(root)
    if html and not os.path.isdir(os.path.dirname(os.path.abspath(html))):
        raise UsageError(f"--html: no such folder: {os.path.dirname(os.path.abspath(html))}")
    page = render(out).encode("utf-8")
    if html:
        with open(html, "wb") as fh:
            fh.write(page)
        return html
    out.write_bytes("report.html", page)
    return out.url("report.html")
