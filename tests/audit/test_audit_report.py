"""`irdata report` over a real corpus: a self-contained page whose numbers are the
tables' and whose thresholds are the run's config, rendered in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest

from irdata import cli
from irdata.audit.counts import QUALITY_GATES
from irdata.config import QUALITY

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
    for stage, reason, count in [("inspect", "too_small", 1), ("dedupe", "duplicate", 1),
                                 ("patch", "flat", 4)]:
        assert f"<tr><td>{stage}</td><td>{reason}</td><td>{count}</td></tr>" in text
    assert "<tr><td>CC0-1.0</td><td>3</td><td>3</td><td>4</td></tr>" in text
    assert "<tr><td>CC-BY-4.0</td><td>2</td><td>1</td><td>2</td></tr>" in text


def test_every_chart_and_sheet_is_there(page):
    text = page.read_text()
    for title in ["source resolution", "flat fraction of grid cells",
                  "duplicate clusters by size", "raw shard sizes", "patches shard sizes",
                  "paired shard sizes", "wall time per stage", "task time per stage",
                  *QUALITY_GATES]:
        assert f"<title>{title}" in text, title
    assert "max_flat_fraction 0.5" in text
    assert text.count("<figcaption>flat ") == 6 + 4  # every kept and every flat cell
    assert text.count("<figcaption>keeper ") == 1 and "<figcaption>near d=" in text
    assert text.count("<figcaption>gt</figcaption>") == 4
    assert text.count("<figcaption>lq.") == 8


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
    assert charts == 18 and with_bars == charts and images == 6 + 4 + 2 + 4 * 3
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
    capsys.readouterr()
    from irdata.audit.verify import verify

    result = verify(str(corpus_copy), lambda f, calls: [f(*c) for c in calls])
    assert result["problems"] == [] and {s["stage"] for s in result["shards"]} == {"fetch"}
