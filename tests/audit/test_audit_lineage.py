"""`irdata show` traces patches of a real corpus to their source; run.json records
the run; bad input to the auditor commands is one line on stderr and exit 2."""

from __future__ import annotations

import configparser
import hashlib
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from irdata import cli
from irdata.imaging.decode import decode_png, decode_rgb
from irdata.patching.flat import flat_fraction

ROOT = Path(__file__).resolve().parents[2]


def _rows(out, table: str) -> list[dict]:
    return pq.read_table(out / "manifest" / f"{table}.parquet").to_pylist()


def _field(text: str, name: str) -> str:
    return re.search(rf"^{re.escape(name)} +(.*)$", text, re.M).group(1)


def test_show_a_paired_patch(audit_corpus, tmp_path, capsys):
    out = audit_corpus["out"]
    variants = _rows(out, "degradations")
    key = variants[0]["key"]
    patch = next(p for p in _rows(out, "patches") if p["key"] == key)
    image = next(i for i in _rows(out, "images") if i["image_id"] == patch["image_id"])
    png = tmp_path / "patch.png"
    assert cli.main(["show", str(out), key, "--png", str(png)]) == 0
    text = capsys.readouterr().out
    assert _field(text, "image_id") == image["image_id"]
    assert _field(text, "locator") == image["locator"]
    assert _field(text, "source_name") == image["source_name"]
    assert _field(text, "license") == image["license"]
    assert _field(text, "x, y, size") == f"{patch['x']}, {patch['y']}, {patch['size']}"
    assert _field(text, "flat_fraction") == f"{patch['flat_fraction']:.4f}"
    assert _field(text, "status") == "kept"
    assert _field(text, "shard") == patch["shard"]
    for variant in (v for v in variants if v["key"] == key):
        assert f"lq.{variant['variant']}: {variant['kind']} {variant['params']}" in text
    assert hashlib.sha256(png.read_bytes()).hexdigest() == patch["sha256"]


def test_show_a_dropped_cell_cuts_it_from_its_source(audit_corpus, tmp_path, capsys):
    out = audit_corpus["out"]
    patch = next(p for p in _rows(out, "patches") if not p["kept"])
    image = next(i for i in _rows(out, "images") if i["image_id"] == patch["image_id"])
    png = tmp_path / "flat.png"
    assert cli.main(["show", str(out), patch["key"], "--png", str(png)]) == 0
    text = capsys.readouterr().out
    assert _field(text, "status") == "dropped (flat)"
    assert _field(text, "degradations") == "none"
    source = decode_rgb(Path(image["locator"]).read_bytes(), image["format"])
    x, y, size = patch["x"], patch["y"], patch["size"]
    cell = decode_png(png.read_bytes())
    assert (cell == source[y:y + size, x:x + size]).all()
    settings = audit_corpus["config"]["patch"]
    assert flat_fraction(cell, settings["flat_block"], settings["flat_threshold"]) == \
        pytest.approx(patch["flat_fraction"], abs=1e-6)


def test_run_json_records_the_run(audit_corpus):
    import json

    run = json.loads((audit_corpus["out"] / "run.json").read_text())
    config = audit_corpus["config"]
    assert run["seed"] == config["seed"] == 3 and run["ok"] is True
    assert run["config"]["degrade"]["kinds"] == ["gaussian_noise", "jpeg"]
    assert run["host"] and run["platform"]
    setup = configparser.ConfigParser()
    setup.read(ROOT / "setup.cfg")
    required = [re.split(r"[\s\[<>=!~]", line, maxsplit=1)[0]
                for line in setup["options"]["install_requires"].split("\n") if line.strip()]
    assert [n for n in required if not run["versions"].get(n)] == []
    assert run["versions"]["irdata"] and run["versions"]["python"]
    stages = audit_corpus["results"].keys()
    assert sorted(run["stage_times"]) == sorted(stages)
    for name in stages:
        times = run["stage_times"][name]
        assert times["started"] <= times["finished"] and times["seconds"] >= 0
    assert run["started"] <= run["stage_times"]["fetch"]["started"]
    assert run["finished"] >= run["stage_times"]["manifest"]["finished"]


def _one_error_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err
    return lines[0]


@pytest.mark.parametrize("command", [["verify"], ["report"], ["show", "-", "KEY"]])
def test_a_missing_output_folder(tmp_path, capsys, command):
    argv = [command[0], str(tmp_path / "nothing"), *command[2:]]
    assert cli.main(argv) == 2
    assert _one_error_line(capsys).endswith("nothing: no such output folder")


@pytest.mark.parametrize("command", [["verify"], ["report"], ["show", "-", "KEY"]])
def test_an_output_without_manifest(tmp_path, capsys, command):
    (tmp_path / "raw").mkdir()
    assert cli.main([command[0], str(tmp_path), *command[2:]]) == 2
    assert "no manifest" in _one_error_line(capsys)


def test_an_unknown_key(audit_corpus, capsys):
    assert cli.main(["show", str(audit_corpus["out"]), "0123456789abcdef_00000_00000"]) == 2
    assert "unknown key '0123456789abcdef_00000_00000'" in _one_error_line(capsys)


def test_a_png_or_html_into_a_missing_folder(audit_corpus, tmp_path, capsys):
    key = _rows(audit_corpus["out"], "patches")[0]["key"]
    missing = tmp_path / "no" / "such.png"
    assert cli.main(["show", str(audit_corpus["out"]), key, "--png", str(missing)]) == 2
    assert "--png: no such folder" in _one_error_line(capsys)
    assert cli.main(["report", str(audit_corpus["out"]), "--html", str(missing)]) == 2
    assert "--html: no such folder" in _one_error_line(capsys)
    assert not missing.parent.exists()
