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
from irdata.patching import figures
from irdata.patching.figures import CELL_GATES, FIGURES

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
    for name in FIGURES:
        assert _field(text, name) == _figure(patch[name]), name
    assert _field(text, "status") == "kept" and _field(text, "failed gate") == "-"
    assert _field(text, "shard") == patch["shard"]
    for variant in (v for v in variants if v["key"] == key):
        assert f"lq.{variant['variant']}: {variant['kind']} {variant['params']}" in text
    assert hashlib.sha256(png.read_bytes()).hexdigest() == patch["sha256"]


def _figure(value) -> str:
    return "-" if value is None else f"{value:.4f}"


def _failed_gate(patch: dict, settings: dict) -> str:
    """What `show` must say: the first gate of the cell's reason that its figures break."""
    for figure, (setting, direction, reason) in CELL_GATES.items():
        value, limit = patch[figure], settings[setting]
        if reason == patch["reason"] and value is not None and (
                value > limit if direction == "above" else value < limit):
            sign = ">" if direction == "above" else "<"
            return f"{reason}: {figure} {value:.4g} {sign} {setting} {limit:g}"
    raise AssertionError(f"no gate of {patch['reason']} fails for {patch['key']}")


def test_show_a_dropped_cell_cuts_it_from_its_source(audit_corpus, tmp_path, capsys):
    out = audit_corpus["out"]
    patch = next(p for p in _rows(out, "patches") if not p["kept"])
    image = next(i for i in _rows(out, "images") if i["image_id"] == patch["image_id"])
    png = tmp_path / "dropped.png"
    assert cli.main(["show", str(out), patch["key"], "--png", str(png)]) == 0
    text = capsys.readouterr().out
    assert _field(text, "status") == f"dropped ({patch['reason']})"
    assert _field(text, "degradations") == "none"
    source = decode_rgb(Path(image["locator"]).read_bytes(), image["format"])
    x, y, size = patch["x"], patch["y"], patch["size"]
    cell = decode_png(png.read_bytes())
    assert (cell == source[y:y + size, x:x + size]).all()
    settings = audit_corpus["config"]["patch"]
    measured = figures.measure(cell, settings["flat_block"], settings["flat_threshold"])
    for name, value in measured.to_dict().items():  # the cut cell is what was measured
        assert patch[name] == (None if value is None else pytest.approx(value, abs=1e-4)), name
    assert _field(text, "failed gate") == _failed_gate(patch, settings)


def test_show_prints_every_figure_and_the_failed_gate(gated_corpus, capsys):
    """The gated build's grainy cell failed max_noise and its blurred one min_sharpness;
    `show` names each gate with the figure's value and the run's threshold."""
    out, settings = gated_corpus["out"], gated_corpus["config"]["patch"]
    dropped = {p["reason"]: p for p in _rows(out, "patches") if not p["kept"]}
    assert sorted(dropped) == ["blurry", "noisy"]
    for reason, patch in dropped.items():
        assert cli.main(["show", str(out), patch["key"]]) == 0
        text = capsys.readouterr().out
        for name in FIGURES:
            assert _field(text, name) == _figure(patch[name]), name
        assert _field(text, "status") == f"dropped ({reason})"
        assert _field(text, "failed gate") == _failed_gate(patch, settings)
    noisy, blurry = dropped["noisy"], dropped["blurry"]
    assert _field(_show(out, noisy["key"], capsys), "failed gate") == (
        f"noisy: noise {noisy['noise']:.4g} > max_noise 1.5")
    assert _field(_show(out, blurry["key"], capsys), "failed gate") == (
        f"blurry: sharpness {blurry['sharpness']:.4g} < min_sharpness "
        f"{settings['min_sharpness']:g}")


def _show(out, key: str, capsys) -> str:
    assert cli.main(["show", str(out), key]) == 0
    return capsys.readouterr().out


def test_show_without_patch_settings_in_run_json(gated_corpus, tmp_path, capsys):
    """An output whose run.json lost its config still names the figure and its value."""
    import json
    import shutil

    out = tmp_path / "out"
    shutil.copytree(gated_corpus["out"], out)
    run = json.loads((out / "run.json").read_text())
    del run["config"]["patch"]
    (out / "run.json").write_text(json.dumps(run))
    patch = next(p for p in _rows(out, "patches") if p["reason"] == "noisy")
    assert _field(_show(out, patch["key"], capsys), "failed gate") == (
        f"noisy: noise {patch['noise']:.4g} (max_noise unknown: not in run.json)")


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
