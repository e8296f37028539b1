"""The training loops on real shards: pre-training with the progressive schedule,
exact resume, deterministic streams, the fine-tuning task mix, checkpoints that
cannot run code, and a 2-process gloo run under torchrun."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
import yaml
from train_shards import build_train_shards

from irdata.train import checkpoint, loop, settings
from irdata.train.data import feed
from irdata.train.data.feed import Feed, segments

PRETRAIN = {"model": {"config": "tiny"},
            "data": {"workers": 0, "shuffle": 4, "epoch_steps": 5},
            "schedule": [{"steps": 6, "crop": 32, "batch": 2},
                         {"steps": 4, "crop": 48, "batch": 1}],
            "log_every": 1, "checkpoint_every": 100, "threads": 1}


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    return build_train_shards(tmp_path_factory.mktemp("trainloop"))


def merged(base: dict, extra: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in extra.items():
        out[key] = merged(out[key], value) if isinstance(value, dict) and key in out else value
    return out


def pretrain_config(shards: dict, out, **extra) -> dict:
    raw = merged(merged(PRETRAIN, {"data": {"shards": shards["patches"]}, "out": str(out)}),
                 extra)
    return settings.finalize(settings.validate(raw, "pretrain"))


def losses(result: dict) -> list[float]:
    return [r["loss"] for r in result["records"]]


def test_schedule_cuts_phases_into_data_epochs(shards, tmp_path):
    config = pretrain_config(shards, tmp_path, steps=12)  # extends the last phase
    got = [(s.phase, s.epoch, s.start, s.stop, s.crop, s.batch) for s in segments(config)]
    assert got == [(0, 0, 0, 5, 32, 2), (0, 1, 5, 6, 32, 2), (1, 0, 6, 11, 48, 1),
                   (1, 1, 11, 12, 48, 1)]
    config = pretrain_config(shards, tmp_path, steps=4)  # cuts it
    assert [(s.start, s.stop) for s in segments(config)] == [(0, 4)]


def test_pretrain_writes_logs_and_checkpoints(shards, tmp_path):
    config = pretrain_config(shards, tmp_path / "run", checkpoint_every=4, keep_checkpoints=1)
    result = loop.train(config)
    records = [json.loads(line) for line in open(tmp_path / "run" / "log.jsonl")]
    assert [r["step"] for r in records] == list(range(1, 11))
    assert [(r["crop"], r["batch"]) for r in records] == [(32, 2)] * 6 + [(48, 1)] * 4
    assert all(np.isfinite(r["loss"]) and r["lr"] == 1e-4 for r in records)
    assert all(0 <= r["data_wait"] <= 1 and r["samples_per_s"] > 0 for r in records)
    assert sum(sum(r["variants"].values()) for r in records) == 10
    assert set().union(*[r["variants"] for r in records]) == {"L", "S"}
    names = sorted(os.listdir(tmp_path / "run" / "checkpoints"))
    assert names == ["last.pt", "step_0000010.pt"]  # step 4 and 8 pruned (keep 1)
    state = checkpoint.load(str(tmp_path / "run" / "checkpoints" / "last.pt"))
    assert state["step"] == 10 and state["config"]["schedule"] == config["schedule"]
    assert result["step"] == 10


def test_training_lowers_the_loss_on_clean_inputs(shards, tmp_path):
    """Identity targets (policy off) with a perturbed start: the loss must fall."""
    config = pretrain_config(shards, tmp_path, steps=40, log_every=10,
                             data={"policy": {"p_degrade": 1.0, "p_mask": 0.0,
                                              "degrade_kinds": ["gaussian_noise"],
                                              "kinds": {"gaussian_noise": {"sigma": 25}}}},
                             schedule=[{"steps": 40, "crop": 32, "batch": 4}],
                             optim={"lr": 2e-3, "grad_clip": 0})
    curve = losses(loop.train(config))
    assert curve[-1] < 0.8 * curve[0], curve


@pytest.mark.parametrize("workers", [0, 2])
def test_resume_continues_exactly(shards, tmp_path, workers):
    """Stop mid-epoch (step 7 of epochs of 5), resume: the same losses as one run."""
    extra = {"data": {"workers": workers}}
    whole = losses(loop.train(pretrain_config(shards, tmp_path / "a", **extra)))
    first = loop.train(pretrain_config(shards, tmp_path / "b", steps=7, **extra))
    rest = loop.train(pretrain_config(shards, tmp_path / "b", steps=10, **extra), resume=True)
    assert losses(first) + losses(rest) == whole
    assert [r["step"] for r in rest["records"]] == [8, 9, 10]


def test_feed_started_mid_run_gives_the_same_batches(shards, tmp_path):
    config = pretrain_config(shards, tmp_path, data={"workers": 2})
    full = [(step, batch) for step, _, batch in Feed(config).batches(0)]
    late = [(step, batch) for step, _, batch in Feed(config).batches(7)]
    assert [s for s, _ in late] == list(range(7, 10))
    for (step_a, a), (step_b, b) in zip(full[7:], late, strict=True):
        assert step_a == step_b and a["key"] == b["key"]
        assert torch.equal(a["lq"], b["lq"]) and torch.equal(a["gt"], b["gt"])


def test_split_mode_refuses_more_lanes_than_shards(shards, tmp_path):
    config = pretrain_config(shards, tmp_path, data={"resampled": False, "workers": 0})
    steps = [step for step, _, _ in Feed(config).batches(0)]  # 2 shards, 1 lane: fine
    assert steps == list(range(10))
    config = pretrain_config(shards, tmp_path, data={"shards": shards["patches"].replace(
        "{00000..00001}", "00000"), "resampled": False, "workers": 2})
    with pytest.raises(ValueError, match="1 shards cannot be split over 1 ranks x 2 loader"):
        Feed(config)


def finetune_config(shards, out, init, **extra) -> dict:
    raw = merged({
        "init": str(init), "out": str(out), "log_every": 5, "threads": 1,
        "data": {"workers": 0, "shuffle": 4, "epoch_steps": 50},
        "schedule": [{"steps": 10, "crop": 32, "batch": 4}],
        "tasks": {"denoise_15": {"kind": "noise", "sigma": 15, "shards": shards["patches"],
                                 "weight": 2},
                  "paired": {"kind": "paired", "shards": shards["paired"], "weight": 1},
                  "dehaze": {"kind": "synthetic", "degradation": "haze",
                             "shards": shards["patches"], "weight": 1}}}, extra)
    return settings.finalize(settings.validate(raw, "finetune"))


@pytest.fixture(scope="module")
def pretrained(shards, tmp_path_factory):
    run = tmp_path_factory.mktemp("pretrained")
    loop.train(pretrain_config(shards, run, steps=2))
    return run / "checkpoints" / "last.pt"


def test_finetune_mixes_tasks_by_weight(shards, tmp_path, pretrained):
    config = finetune_config(shards, tmp_path, pretrained,
                             schedule=[{"steps": 50, "crop": 32, "batch": 4}])
    counts, residual = {}, []
    for _, _, batch in Feed(config).batches(0):
        for k, task in enumerate(batch["task"]):
            counts[task] = counts.get(task, 0) + 1
            if task == "denoise_15":
                residual.append((batch["lq"][k] - batch["gt"][k]).std().item())
    assert sum(counts.values()) == 200 and set(counts) == {"denoise_15", "paired", "dehaze"}
    assert 0.4 < counts["denoise_15"] / 200 < 0.6  # weight 2 of 4
    assert abs(np.median(residual) * 255 - 15) < 1.5


def test_finetune_starts_from_the_init_weights(shards, tmp_path, pretrained):
    start = checkpoint.load(str(pretrained))["model"]
    loop.train(finetune_config(shards, tmp_path / "frozen", pretrained, steps=3,
                               optim={"lr": 0.0}))
    frozen = checkpoint.load(str(tmp_path / "frozen" / "checkpoints" / "last.pt"))
    assert all(torch.equal(start[k], v) for k, v in frozen["model"].items())
    assert frozen["optimizer"]["param_groups"][0]["betas"] == (0.9, 0.999)
    loop.train(finetune_config(shards, tmp_path / "moved", pretrained, steps=3))
    moved = checkpoint.load(str(tmp_path / "moved" / "checkpoints" / "last.pt"))["model"]
    assert not all(torch.equal(start[k], v) for k, v in moved.items())


class _Exploit:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_checkpoints_load_weights_only(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.save({"format": checkpoint.FORMAT, "model": _Exploit()}, tmp_path / "evil.pt")
    with pytest.raises(Exception, match="not a loadable irdata checkpoint"):
        checkpoint.load(str(tmp_path / "evil.pt"))
    assert not (tmp_path / "PWNED").exists()
    (tmp_path / "cut.pt").write_bytes(b"PK\x03\x04" + b"\0" * 40)
    with pytest.raises(Exception, match="not a loadable irdata checkpoint"):
        checkpoint.load(str(tmp_path / "cut.pt"))


def test_shipped_training_pipelines_are_valid():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for mode in ("pretrain", "finetune"):  # supervised and distill run inside transfer
        tiny = settings.load(os.path.join(root, "pipelines", f"{mode}-tiny.yaml"), mode)
        assert tiny["model"]["config"] == "tiny" or mode == "finetune"
        assert 200 <= settings.total_steps(tiny) <= 400
        full = settings.load(os.path.join(root, "pipelines", f"{mode}.yaml"), mode)
        assert full["optim"]["name"] == {"pretrain": "adam", "finetune": "adamw"}[mode]
    assert [p["crop"] for p in full["schedule"]] == [128]
    assert sorted(full["tasks"]) == ["dehaze", "denoise_15", "denoise_25", "denoise_50",
                                     "derain"]


def test_two_processes_under_torchrun(shards, tmp_path):
    """gloo on CPU: both ranks train in step and end with the same weights."""
    config = merged(PRETRAIN, {"data": {"shards": shards["patches"]}, "steps": 4,
                               "log_every": 2, "threads": 1})
    path = tmp_path / "ddp.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    run = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "irdata", "train", "pretrain", str(path),
         "--out", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=240, env=env)
    assert run.returncode == 0, run.stderr[-3000:]
    records = [json.loads(line) for line in open(tmp_path / "run" / "log.jsonl")]
    assert [r["step"] for r in records] == [2, 4] and {r["world"] for r in records} == {2}
    assert all(sum(r["tasks"].values()) == 2 * 2 for r in records)  # one rank's samples
    assert checkpoint.load(str(tmp_path / "run" / "checkpoints" / "last.pt"))["step"] == 4


def test_task_urls_name_the_missing_shards(shards, tmp_path):
    config = pretrain_config(shards, tmp_path)
    config["tasks"]["pretrain"]["shards"] = shards["patches"].replace("{00000..00001}",
                                                                      "{00000..00003}")
    with pytest.raises(ValueError, match="task pretrain: 2 of 4 shards do not exist"):
        feed.task_urls(config)
