"""The offline degrade stage over real patch shards: paired samples, manifest rows
that agree with the tars, reproducible bytes, and the CLI's --stages degrade."""

from __future__ import annotations

import json
import subprocess
import sys
import tarfile

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest
from inline_build import build_inline

from irdata import degrade as lib
from irdata.config import validate
from irdata.demo.synth import encode, procedural_image
from irdata.stages import degrade

KINDS = ["gaussian_noise", "jpeg", "mask"]


def _config(root, **degrade_settings):
    return validate({"sources": [{"name": "mine", "dir": str(root / "photos")}],
                     "images_per_partition": 2, "seed": 7,
                     "degrade": {"variants": 2, "kinds": KINDS, **degrade_settings}},
                    "test", str(root))


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("degrade")
    (root / "photos").mkdir()
    for seed in range(3):
        (root / "photos" / f"p{seed}.png").write_bytes(
            encode(procedural_image(seed, 1100, 600, sky_fraction=0.0), "png"))
    config = _config(root)
    partitions = build_inline(config, str(root / "out"))
    return {"root": root, "out": root / "out", "config": config, "partitions": partitions}


def _members(path):
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


def _rgb(png):
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR),
                        cv2.COLOR_BGR2RGB)


def test_each_kept_patch_has_gt_and_k_variants(built):
    kept = [r for r in pq.read_table(built["out"] / "manifest" / "patches.parquet").to_pylist()
            if r["kept"]]
    assert kept
    for index in range(built["partitions"]):
        clean = _members(built["out"] / "patches" / f"{index:05d}.tar")
        paired = _members(built["out"] / "paired" / f"{index:05d}.tar")
        keys = sorted(name.split(".")[0] for name in clean if name.endswith(".png"))
        assert sorted(paired) == sorted(f"{k}.{ext}" for k in keys
                                        for ext in ("gt.png", "lq.0.png", "lq.1.png", "json"))
        for key in keys:
            assert paired[f"{key}.gt.png"] == clean[f"{key}.png"]


def test_stored_inputs_are_reproducible_from_the_recorded_params(built):
    paired = _members(built["out"] / "paired" / "00000.tar")
    key = sorted(n for n in paired if n.endswith(".json"))[0].split(".")[0]
    record = json.loads(paired[f"{key}.json"])
    gt = lib.to_float(_rgb(paired[f"{key}.gt.png"]))
    for variant in record["variants"]:
        assert variant["kind"] in KINDS and variant["seed"] == 7
        again = lib.to_uint8(lib.apply(variant["kind"], gt, variant["params"]))
        stored = _rgb(paired[f"{key}.lq.{variant['variant']}.png"])
        assert np.array_equal(again, stored)
        assert not np.array_equal(stored, _rgb(paired[f"{key}.gt.png"]))


def test_degradations_table_agrees_with_the_tars(built):
    rows = pq.read_table(built["out"] / "manifest" / "degradations.parquet").to_pylist()
    from_tars = []
    for index in range(built["partitions"]):
        members = _members(built["out"] / "paired" / f"{index:05d}.tar")
        for name, data in sorted(members.items()):
            if name.endswith(".json"):
                record = json.loads(data)
                from_tars += [(record["key"], v["variant"], v["kind"],
                               json.dumps(v["params"], sort_keys=True)) for v in record["variants"]]
    assert sorted((r["key"], r["variant"], r["kind"], r["params"]) for r in rows) == sorted(
        from_tars)
    shards = pq.read_table(built["out"] / "manifest" / "shards.parquet").to_pylist()
    assert sum(1 for s in shards if s["stage"] == "degrade") == built["partitions"]


def test_rerunning_a_partition_gives_identical_bytes(built, tmp_path):
    first = (built["out"] / "paired" / "00000.tar").read_bytes()
    degrade.run_partition(built["config"], str(built["out"]), 0)
    assert (built["out"] / "paired" / "00000.tar").read_bytes() == first


def test_fraction_pairs_a_deterministic_subset(built):
    settings = dict(_config(built["root"], fraction=0.5)["degrade"])
    keys = [f"{i:016x}_00000_00000" for i in range(400)]
    chosen = [k for k in keys if degrade.selected(settings, 7, k)]
    assert 150 < len(chosen) < 250
    assert chosen == [k for k in keys if degrade.selected(settings, 7, k)]


def test_cli_runs_degrade_over_existing_patches(tmp_path):
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.png").write_bytes(
        encode(procedural_image(3, 600, 600, sky_fraction=0.0), "png"))
    base = "sources:\n  - name: mine\n    dir: photos\n"
    (tmp_path / "clean.yaml").write_text(base)
    (tmp_path / "paired.yaml").write_text(
        base + "degrade:\n  variants: 2\n  kinds: [gaussian_noise, jpeg]\n")
    run = [sys.executable, "-m", "irdata", "build", "--out", "out", "--workers", "1"]
    clean = subprocess.run(run + ["clean.yaml"], cwd=tmp_path, capture_output=True, text=True)
    assert clean.returncode == 0, clean.stderr
    assert not (tmp_path / "out" / "paired").exists()
    refused = subprocess.run(run + ["clean.yaml", "--stages", "degrade"], cwd=tmp_path,
                             capture_output=True, text=True)
    assert refused.returncode == 2
    assert "stage 'degrade' is not configured" in refused.stderr
    paired = subprocess.run(run + ["paired.yaml", "--stages", "degrade"], cwd=tmp_path,
                            capture_output=True, text=True)
    assert paired.returncode == 0, paired.stderr
    names = sorted(_members(tmp_path / "out" / "paired" / "00000.tar"))
    assert [n.split(".", 1)[1] for n in names] == ["gt.png", "json", "lq.0.png", "lq.1.png"]


def test_policy_variants_follow_the_dynet_pretrain_mix(built):
    settings = dict(_config(built["root"], variants=1,
                            policy={"name": "dynet_pretrain"})["degrade"])
    kinds = [degrade.plan_variants(settings, 7, f"{i:016x}_00000_00000")[0]["kind"]
             for i in range(1000)]
    share = {k: kinds.count(k) / len(kinds) for k in set(kinds)}
    assert set(share) <= {"gaussian_noise", "jpeg", "random_noise", "mask", "none"}
    assert abs(share["mask"] - 0.3) < 0.05 and abs(share["none"] - 0.2) < 0.05
    gt = np.zeros((8, 8, 3), np.float32)
    assert np.array_equal(degrade.apply_variant(gt, {"kind": "none", "params": {}}), gt)


def test_bad_policy_is_a_config_error(built):
    from irdata.errors import ConfigError

    with pytest.raises(ConfigError, match="'degrade.policy': unknown policy 'mae'"):
        _config(built["root"], policy={"name": "mae"})
