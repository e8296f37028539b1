"""Task transfer learning: teachers on connected tasks, one distilled student, a few
rain pairs. Each phase runs on real shards, the distillation losses fall, resume repeats
the losses exactly, teachers of another width are projected, and bad configs fail before
any training."""

from __future__ import annotations

import json
import os

import pytest
import torch
import yaml
from train_shards import build_train_shards

from irdata.cli import main
from irdata.errors import ConfigError
from irdata.train import checkpoint, distill, loop, models, settings, transfer

TINY = {"name": "dynet", "config": "tiny"}


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    return build_train_shards(tmp_path_factory.mktemp("transfer"))


def transfer_yaml(tmp_path, shards, steps=4, **extra) -> str:
    phase = {"schedule": [{"steps": steps, "crop": 32, "batch": 2}],
             "optim": {"name": "adamw", "lr": 1e-3, "lr_schedule": "constant"}}
    config = {"seed": 3, "out": str(tmp_path / "run"), "shards": shards["patches"],
              "data": {"workers": 0, "shuffle": 4, "epoch_steps": 50}, "threads": 1,
              "log_every": 1, "checkpoint_every": 2,
              "teachers": {"model": TINY, **phase,
                           "tasks": {"denoise": {"kind": "noise", "sigma": 25},
                                     "deblock": {"kind": "synthetic", "degradation": "jpeg"}}},
              "distill": {"model": TINY, **phase, "taps": ["latent", "decoder1"]},
              "finetune": {**phase, "tasks": {"derain": {"kind": "paired",
                                                         "shards": shards["paired"]}}}}
    for key, value in extra.items():
        config[key] = {**config[key], **value} if isinstance(value, dict) else value
    path = tmp_path / "transfer.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def _log(run, phase) -> list[dict]:
    return [json.loads(line) for line in open(os.path.join(run, phase, "log.jsonl"))]


def test_the_three_phases_run_and_a_rerun_skips_them(shards, tmp_path, capsys):
    path = transfer_yaml(tmp_path, shards)
    assert main(["train", "transfer", path]) == 0
    run = tmp_path / "run"
    for teacher in ("denoise", "deblock"):
        assert checkpoint.load(transfer.checkpoint_of(str(run), teacher))["step"] == 4
        assert [r["tasks"] for r in _log(run, f"teachers/{teacher}")][0] == {teacher: 2}
    recorded = json.load(open(run / "student" / "config.json"))
    assert sorted(recorded["distill"]["teachers"]) == ["deblock", "denoise"]
    assert recorded["tasks"]["denoise"]["shards"] == shards["patches"]
    student, state = checkpoint.load_model(str(run / "student" / "student.pt"))
    assert state["distilled"]["tasks"] == ["deblock", "denoise"]
    with torch.no_grad():  # what eval and restore run
        assert student(torch.rand(1, 3, 24, 24), "S").shape == (1, 3, 24, 24)
    capsys.readouterr()
    assert main(["eval", "--checkpoint", str(run / "student" / "checkpoints" / "last.pt"),
                 "--clean", str(tmp_path), "--noise-sigma", "25"]) == 2
    assert "student.pt" in capsys.readouterr().err  # the run's checkpoint is not the model
    finetuned = checkpoint.load(str(run / "finetune" / "checkpoints" / "last.pt"))
    assert finetuned["config"]["init"] == str(run / "student" / "student.pt")
    capsys.readouterr()
    assert main(["train", "transfer", path]) == 0
    assert capsys.readouterr().err.count("skipped") == 4  # 2 teachers, distill, finetune


def distill_config(shards, tmp_path, teachers: dict, steps=10, **extra) -> dict:
    raw = {"out": str(tmp_path / "student"), "model": TINY, "threads": 1, "log_every": 1,
           "checkpoint_every": 100, "data": {"workers": 0, "shuffle": 4, "epoch_steps": 50},
           "steps": steps, "schedule": [{"steps": 10, "crop": 32, "batch": 4}],
           "optim": {"name": "adamw", "lr": 3e-3, "lr_schedule": "constant",
                     "warmup_steps": 0},
           "tasks": {name: {"kind": "noise", "sigma": 25, "shards": shards["patches"]}
                     for name in teachers},
           "distill": {"teachers": teachers, **extra}}
    return settings.finalize(settings.validate(raw, "distill"))


def random_teacher(path, seed, **options) -> str:
    torch.manual_seed(seed)
    checkpoint.save_model(str(path), models.build({**TINY, "options": options}))
    return str(path)


def test_distillation_losses_fall(shards, tmp_path):
    teachers = {"a": random_teacher(tmp_path / "a.pt", 1), "b": random_teacher(tmp_path / "b.pt", 2)}
    result = loop.train(distill_config(shards, tmp_path, teachers, steps=40))
    curve = [r["loss"] for r in result["records"]]
    assert sum(curve[-8:]) < 0.85 * sum(curve[:8]), curve  # measured 0.74


def test_distillation_resumes_exactly(shards, tmp_path):
    teachers = {"a": random_teacher(tmp_path / "a.pt", 1)}
    whole = loop.train(distill_config(shards, tmp_path / "one", teachers))
    first = loop.train(distill_config(shards, tmp_path / "two", teachers, steps=6))
    rest = loop.train(distill_config(shards, tmp_path / "two", teachers), resume=True)
    assert [r["loss"] for r in first["records"] + rest["records"]] == \
        [r["loss"] for r in whole["records"]]
    assert [r["step"] for r in rest["records"]] == [7, 8, 9, 10]


def test_a_teacher_of_another_width_is_projected(tmp_path):
    wide = random_teacher(tmp_path / "wide.pt", 4, dim=16)
    student = distill.build(TINY, {"teachers": {"t": wide}, "taps": ["latent", "decoder1"],
                                   "output_weight": 1.0, "feature_weight": 1.0,
                                   "gt_weight": 0.0})
    latent = student.projections["t__latent"]
    assert (latent.in_channels, latent.out_channels) == (64, 128)  # dim 8 * 8 -> 16 * 8
    assert student.projections["t__decoder1"].out_channels == 32
    x = torch.rand(2, 3, 32, 32)
    loss = student(x, "S", gt=x, tasks=["t", "t"])
    loss.backward()
    assert torch.isfinite(loss) and latent.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in student.teachers.parameters())


def test_bad_configs_fail_before_any_training(shards, tmp_path):
    unknown = transfer_yaml(tmp_path, shards, teachers={"tasks": {
        "sharpen": {"kind": "synthetic", "degradation": "sharpen"}}})
    with pytest.raises(ConfigError, match="degradation"):
        transfer.plan(yaml.safe_load(open(unknown)), unknown)
    no_taps = transfer_yaml(tmp_path, shards, distill={"model": {"name": "rednet"}})
    with pytest.raises(ConfigError, match="student has no module 'latent'"):
        transfer.plan(yaml.safe_load(open(no_taps)), no_taps)
    bad_tap = transfer_yaml(tmp_path, shards, distill={"taps": ["nowhere"]})
    assert main(["train", "transfer", bad_tap]) == 2
    assert not (tmp_path / "run").exists()  # nothing trained
    teachers = {"a": str(tmp_path / "missing.pt")}
    with pytest.raises(ConfigError, match="no checkpoint at"):
        distill_config(shards, tmp_path, teachers)
    raw = {"model": TINY, "tasks": {"a": {"kind": "noise", "sigma": 5, "shards": "x"},
                                    "b": {"kind": "noise", "sigma": 9, "shards": "x"}},
           "distill": {"teachers": {"a": "a.pt"}}}
    with pytest.raises(ConfigError, match="no checkpoint for task 'b'"):
        settings.validate(raw, "distill")


@pytest.mark.parametrize("name", ["transfer-tiny.yaml", "transfer.yaml"])
def test_the_shipped_transfer_presets_plan(name):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.join(root, "pipelines", name)
    phases = transfer.plan(yaml.safe_load(open(path)), path)
    assert [p for p, _ in phases] == ["teacher denoise", "teacher deblur", "teacher inpaint",
                                      "teacher deblock", "distill", "finetune"]
    assert phases[-2][1]["distill"]["taps"] == ["latent", "decoder1"]
