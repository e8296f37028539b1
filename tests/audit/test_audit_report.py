"""`irdata report` over a real corpus: a self-contained page whose numbers are the
tables' and whose thresholds are the run's config, rendered in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections import Counter

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest

from irdata import cli
from irdata.audit.counts import QUALITY_GATES
from irdata.config import QUALITY
from irdata.patching.figures import CELL_GATES, CELL_REASONS, FIGURES
from irdata.quality import gates

CHROMIUM = shutil.which("chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-quic", "--no-first-run",
                  "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


@pytest.fixture(scope="module")
def page(audit_corpus, tmp_path_factory):
    html = tmp_path_factory.mktemp("report") / "report.html"
    assert cli.main(["report", str(audit_corpus["out"]), "--html", str(html)]) == 0
    return html


def test_the_page_loads_nothing_from_outside(page):
    text = page.read_text()
    sources = re.findall(r'<img src="([^"]{0,30})', text)
    assert sources and all(s.startswith("data:image/jpeg;base64,") for s in sources)
    assert not re.search(r"<link|<script src|https?://(?!www\.w3\.org/2000/svg)", text)
    assert "default-src 'none'" in text


def test_funnel_and_drops_are_the_tables(page, audit_corpus):
    text = page.read_text()
    rows = {"source items": 5, "fetched": 5, "decoded": 5, "usable (size, quality)": 4,
            "unique": 3, "grid cells": 10, "kept patches": 6}
    for step, count in rows.items():
        assert f"<tr><td>{step}</td><td>{count}</td></tr>" in text
    patches = pq.read_table(audit_corpus["out"] / "manifest" / "patches.parquet")
    assert patches.num_rows == 10 and sum(patches["kept"].to_pylist()) == 6
    dropped = Counter(p["reason"] for p in patches.to_pylist() if not p["kept"])
    assert sum(dropped.values()) == 4 and set(dropped) <= set(CELL_REASONS)
    for stage, reason, count in [("inspect", "too_small", 1), ("dedupe", "duplicate", 1),
                                 *[("patch", r, n) for r, n in dropped.items()]]:
        assert f"<tr><td>{stage}</td><td>{reason}</td><td>{count}</td></tr>" in text
    assert "<tr><td>CC0-1.0</td><td>3</td><td>3</td><td>4</td></tr>" in text
    assert "<tr><td>CC-BY-4.0</td><td>2</td><td>1</td><td>2</td></tr>" in text


def _charts(text: str) -> dict[str, str]:
    """Chart title -> its SVG."""
    return {re.search(r"<title>([^<]*)", svg).group(1): svg
            for svg in re.findall(r'<svg class="chart".*?</svg>', text)}


def _sections(text: str) -> dict[str, str]:
    """Section heading -> its HTML."""
    return dict(re.findall(r"<section><h2>([^<]*)</h2>(.*?)</section>", text))


def _patches(out):
    return pq.read_table(out / "manifest" / "patches.parquet").to_pylist()


def test_every_chart_and_sheet_is_there(page, audit_corpus):
    text = page.read_text()
    for title in ["source resolution", "duplicate clusters by size", "raw shard sizes",
                  "patches shard sizes", "paired shard sizes", "wall time per stage",
                  "task time per stage", *[f"{f} of grid cells" for f in FIGURES],
                  *QUALITY_GATES]:
        assert f"<title>{title}" in text, title
    assert "max_flat_fraction 0.5" in text
    assert text.count("<figcaption>flat ") == 6  # every kept cell
    dropped = "".join(html for title, html in _sections(text).items()
                      if title.startswith("Patches dropped as "))
    assert dropped.count("<figcaption>") == 4  # every dropped cell, in its reason's sheet
    assert text.count("<figcaption>keeper ") == 1 and "<figcaption>near d=" in text
    assert text.count("<figcaption>gt</figcaption>") == 4
    assert text.count("<figcaption>lq.") == 8


def test_one_histogram_per_cell_figure_with_its_gate(page, audit_corpus):
    text, settings = page.read_text(), audit_corpus["config"]["patch"]
    dropped = [p["reason"] for p in _patches(audit_corpus["out"]) if not p["kept"]]
    found = _charts(text)
    for figure in FIGURES:
        titles = [t for t in found if t.startswith(f"{figure} of grid cells")]
        assert len(titles) == 1, figure
        svg = found[titles[0]]
        assert svg.count('class="bar"') == 20, figure  # all grid cells binned
        if figure not in CELL_GATES:  # periodicity: judged per source only
            assert 'class="threshold"' not in svg and titles[0] == f"{figure} of grid cells"
            continue
        setting, _, reason = CELL_GATES[figure]
        assert titles[0] == f"{figure} of grid cells ({dropped.count(reason)} dropped as {reason})"
        assert re.search(rf'class="threshold".*>{setting} {settings[setting]:g}</text>', svg)
    assert f"min_sharpness {settings['min_sharpness']:g}" in found[
        f"sharpness of grid cells ({dropped.count('blurry')} dropped as blurry)"]


def test_cell_thresholds_come_from_the_run(corpus_copy):
    run = json.loads((corpus_copy / "run.json").read_text())
    run["config"]["patch"].update(min_sharpness=-9.75, max_noise=0.25, max_blockiness=1.3)
    (corpus_copy / "run.json").write_text(json.dumps(run))
    assert cli.main(["report", str(corpus_copy)]) == 0
    found = _charts((corpus_copy / "report.html").read_text())
    for figure, label in [("sharpness", "min_sharpness -9.75"), ("noise", "max_noise 0.25"),
                          ("blockiness", "max_blockiness 1.3")]:
        svg = next(v for t, v in found.items() if t.startswith(f"{figure} of grid cells"))
        assert f">{label}</text>" in svg, figure


def test_a_sheet_per_drop_reason_with_the_failed_figure(audit_corpus, gated_corpus, tmp_path):
    """One section per per-cell reason that occurs, each tile captioned with the figure
    that failed, its value and the threshold (the run's patch settings)."""
    found = {}
    for corpus in (audit_corpus, gated_corpus):
        html = tmp_path / f"{corpus['out'].parent.name}.html"
        assert cli.main(["report", str(corpus["out"]), "--html", str(html)]) == 0
        sections = _sections(html.read_text())
        dropped = [p for p in _patches(corpus["out"]) if not p["kept"]]
        reasons = found[corpus["out"].parent.name] = {p["reason"] for p in dropped}
        assert reasons <= set(CELL_REASONS)
        assert {h.removeprefix("Patches dropped as ") for h in sections
                if h.startswith("Patches dropped as ")} == reasons
        settings = corpus["config"]["patch"]
        for reason in reasons:
            captions = re.findall(r"<figcaption>([^<]*)</figcaption>",
                                  sections[f"Patches dropped as {reason}"])
            expected = []
            for cell in (p for p in dropped if p["reason"] == reason):
                figure = next(f for f, (s, d, r) in CELL_GATES.items() if r == reason and (
                    cell[f] is not None
                    and (cell[f] > settings[s] if d == "above" else cell[f] < settings[s])))
                setting, direction, _ = CELL_GATES[figure]
                sign = "&gt;" if direction == "above" else "&lt;"
                expected.append(f"{figure} {cell[figure]:.4g} {sign} {settings[setting]:g}")
            assert sorted(captions) == sorted(expected), reason
    # the gated build drops cells for reasons other than flat: its grainy and blurred ones
    assert found[gated_corpus["out"].parent.name] == {"noisy", "blurry"}


def test_the_gated_build_charts_count_its_drops(gated_corpus, tmp_path):
    html = tmp_path / "gated.html"
    assert cli.main(["report", str(gated_corpus["out"]), "--html", str(html)]) == 0
    found = _charts(html.read_text())
    assert "noise of grid cells (1 dropped as noisy)" in found
    assert "sharpness of grid cells (1 dropped as blurry)" in found
    assert "flat_fraction of grid cells (0 dropped as flat)" in found
    assert ">max_noise 1.5</text>" in found["noise of grid cells (1 dropped as noisy)"]


def test_cluster_captions_name_the_keeper_reason(page, audit_corpus):
    text = page.read_text()
    clusters = pq.read_table(audit_corpus["out"] / "dedupe" / "clusters.parquet").to_pylist()
    if "keeper_reason" not in clusters[0]:
        assert "won on" not in text
        return
    for row in clusters:
        assert row["keeper_reason"]
        if row["keeper"]:
            assert re.search(rf"<figcaption>keeper [^<]* \(won on {row['keeper_reason']}\)<",
                             text)
        else:
            assert re.search(rf"<figcaption>{row['match']} d={row['distance']} [^<]* "
                             rf"\(keeper won on {row['keeper_reason']}\)<", text)


def test_source_quality_gates_are_the_gates_of_the_quality_module():
    ungated = {"tonal_range"}  # recorded for dedupe's keeper rule, never a gate
    assert list(QUALITY_GATES) == [f for f in gates.FIGURES if f not in ungated]
    for figure, (setting, reason) in QUALITY_GATES.items():
        assert setting in QUALITY and reason in dict(gates.CHECKS), figure


def test_quality_thresholds_come_from_the_run(corpus_copy, tmp_path):
    run = json.loads((corpus_copy / "run.json").read_text())
    run["config"]["quality"].update(min_sharpness=0.77, max_noise=9.5)
    (corpus_copy / "run.json").write_text(json.dumps(run))
    assert cli.main(["report", str(corpus_copy)]) == 0
    text = (corpus_copy / "report.html").read_text()
    assert "min_sharpness 0.77" in text and "max_noise 9.5" in text
    for figure, (setting, _) in QUALITY_GATES.items():
        assert setting in QUALITY, setting  # a real `quality` setting
        assert re.search(rf'class="threshold".*?>{setting} ', text), figure


def _chromium(*args: str, tmp_path) -> subprocess.CompletedProcess:
    profile = tmp_path / f"profile-{len(list(tmp_path.iterdir()))}"
    return subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=90, check=True)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed "
                    "(apt-get install chromium; .ci/run installs it)")
def test_chromium_renders_every_chart_and_image(page, tmp_path):
    text = page.read_text()
    charts = len(re.findall(r'<svg class="chart".*?</svg>', text))
    with_bars = len(re.findall(r'<svg class="chart"(?:(?!</svg>).)*class="bar"', text))
    images = text.count("<img ")
    dom = _chromium("--virtual-time-budget=5000", "--dump-dom", page.as_uri(),
                    tmp_path=tmp_path).stdout
    assert f'data-check="charts={with_bars} images={images} broken=0"' in dom
    assert charts == 9 + len(FIGURES) + len(QUALITY_GATES) and with_bars == charts
    assert images == 6 + 4 + 2 + 4 * 3
    shot = tmp_path / "report.png"
    _chromium("--window-size=1280,2000", "--virtual-time-budget=5000",
              f"--screenshot={shot}", page.as_uri(), tmp_path=tmp_path)
    pixels = cv2.imread(str(shot))
    assert pixels.shape == (2000, 1280, 3)
    bars = np.all(np.abs(pixels.astype(int) - (168, 120, 74)) < 8, axis=2)  # BGR of #4a78a8
    assert bars.mean() > 0.005  # the charts' bars are drawn, not just the text


def test_a_build_that_only_fetched(audit_corpus, corpus_copy, capsys):
    """No patch or paired shards: the report still has its funnel, verify still passes."""
    from irdata.stages import manifest

    for folder in ("patches", "paired"):
        shutil.rmtree(corpus_copy / folder)
    for name in ("patches", "degradations"):
        (corpus_copy / "manifest" / f"{name}.parquet").unlink()
    manifest.run_partition(audit_corpus["config"], str(corpus_copy), 0, partitions=3)
    assert not (corpus_copy / "manifest" / "patches.parquet").exists()
    assert (corpus_copy / "manifest" / "degradations.parquet").exists()  # always written
    assert cli.main(["report", str(corpus_copy)]) == 0
    text = (corpus_copy / "report.html").read_text()
    assert "<tr><td>grid cells</td><td>0</td></tr>" in text and "no kept patches" in text
    assert "no grid cell was dropped" in text
    capsys.readouterr()
    from irdata.audit.verify import verify

    result = verify(str(corpus_copy), lambda f, calls: [f(*c) for c in calls])
    assert result["problems"] == [] and {s["stage"] for s in result["shards"]} == {"fetch"}
