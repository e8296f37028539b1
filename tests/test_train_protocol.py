"""The official DyNet fine-tune as a preset: its schedule (per epoch, Lightning's order),
L1 on the clamped output, flips/rotations that never leave the image as it is, noise
truncated to 8 bits as numpy's astype(uint8) does, and the preset file itself."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from irdata.errors import ConfigError
from irdata.train import loop, settings
from irdata.train.data.samples import AUGMENT_MODES, augment, flip_rotate
from irdata.train.data.tasks import maker_for
from irdata.train.distributed import Context
from irdata.train.optim import lr_factor, make_optimizer, make_scheduler

PRESET = "pipelines/finetune-dynet-protocol.yaml"


def bolts_lr(epoch: int, base: float, warmup: int, end: int) -> float:
    """Lightning Bolts' LinearWarmupCosineAnnealingLR closed form, warm-up from 0, eta_min 0."""
    if epoch < warmup:
        return epoch * base / (warmup - 1)
    return 0.5 * base * (1 + math.cos(math.pi * (epoch - warmup) / (end - warmup)))


def test_epoch_schedule_is_the_official_one_stepped_at_epoch_ends():
    optim = {"lr_schedule": "epoch_cosine", "lr": 2e-4, "min_lr": 0.0, "warmup_epochs": 15,
             "max_epochs": 150, "warmup_steps": 0}
    steps = 7  # per epoch
    for epoch in range(0, 121):
        expected = bolts_lr(max(epoch - 1, 0), 2e-4, 15, 150)
        for step in (epoch * steps, epoch * steps + steps - 1):  # constant within an epoch
            assert lr_factor(step, 120 * steps, optim, steps) * 2e-4 == pytest.approx(
                expected, abs=1e-12), (epoch, step)
    assert lr_factor(0, 10, optim, steps) == 0 and lr_factor(steps, 10, optim, steps) == 0
    assert lr_factor(16 * steps, 10, optim, steps) == pytest.approx(1.0)  # the peak


def test_the_scheduler_the_loop_builds_follows_it():
    model = torch.nn.Linear(2, 2)
    optim = {"name": "adamw", "lr": 2e-4, "betas": [0.9, 0.999], "weight_decay": 0.01,
             "lr_schedule": "epoch_cosine", "warmup_epochs": 3, "max_epochs": 10,
             "min_lr": 0.0, "warmup_steps": 0}
    optimizer = make_optimizer(model, optim)
    scheduler = make_scheduler(optimizer, optim, 40, epoch_steps=4)
    seen = []
    for _ in range(40):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert seen[:8] == [0.0] * 8  # epochs 0 and 1
    assert seen[8:12] == [pytest.approx(1e-4)] * 4  # epoch 2: bolts' epoch 1 of a 3-epoch warm-up
    assert seen[12] == pytest.approx(2e-4) and seen[16] == pytest.approx(2e-4)
    assert seen[-1] == pytest.approx(bolts_lr(8, 2e-4, 3, 10))
    assert optimizer.param_groups[0]["weight_decay"] == 0.01


def test_no_identity_draws_the_seven_other_flips_and_rotations():
    rng = np.random.default_rng(0)
    image = np.arange(4 * 4 * 3, dtype=np.uint8).reshape(4, 4, 3)
    outputs = {augment(rng, [image], 4, AUGMENT_MODES["no_identity"])[0].tobytes()
               for _ in range(400)}
    every = {flip_rotate(image, mode).tobytes() for mode in range(8)}
    assert len(every) == 8
    assert outputs == every - {image.tobytes()}
    assert {augment(rng, [image], 4, AUGMENT_MODES["none"])[0].tobytes()
            for _ in range(20)} == {image.tobytes()}


def test_truncated_noise_is_numpy_astype_uint8_of_the_noisy_values():
    clean = (np.random.default_rng(1).random((64, 64, 3)) * 255).astype(np.uint8)
    sample = {"png": cv2.imencode(".png", clean[..., ::-1])[1].tobytes()}
    task = {"kind": "noise", "sigma": 25.0, "augment": "none"}
    plain = maker_for({**task, "quantize": "off"})
    truncated = maker_for({**task, "quantize": "truncate"})
    rounded = maker_for({**task, "quantize": "round"})
    lq, gt, _ = plain(np.random.default_rng(5), sample, 64)
    lq_t, _, _ = truncated(np.random.default_rng(5), sample, 64)
    lq_r, _, _ = rounded(np.random.default_rng(5), sample, 64)
    assert np.array_equal(gt * 255, clean.astype(np.float32))
    assert np.array_equal(lq_t * 255, np.round(lq_t * 255))  # on the 8-bit grid
    official = np.clip(lq.astype(np.float64) * 255, 0, 255).astype(np.uint8)
    assert np.mean(np.round(lq_t * 255).astype(np.uint8) == official) > 0.999
    assert np.array_equal(np.round(lq_r * 255), np.rint(lq * 255))
    assert not np.array_equal(lq_t, lq_r)  # truncation is not rounding


class _Overshoot(torch.nn.Module):
    """Outputs 1.5 + w: always above 1."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return x * 0 + 1.5 + self.w


def test_loss_on_the_clamped_output_has_no_gradient_past_the_range():
    batch = {"lq": torch.zeros(1, 3, 4, 4), "gt": torch.full((1, 3, 4, 4), 0.25)}
    ctx = Context(0, 1, 0, torch.device("cpu"))
    for clamp, loss_expected, moves in ((True, 0.75, False), (False, 1.25, True)):
        model = _Overshoot()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0)
        config = {"mode": "finetune", "amp": "off", "loss_clamp": clamp,
                  "optim": {"grad_clip": 0}}
        loss = loop._step(model, optimizer, scheduler, batch, None, config, ctx)
        assert loss == pytest.approx(loss_expected)
        assert (float(model.w.detach()) != 0.0) is moves


def test_the_preset_is_the_protocol():
    config = settings.load(PRESET, "finetune")
    optim = config["optim"]
    assert (optim["name"], optim["lr"], optim["weight_decay"], optim["grad_clip"]) == \
        ("adamw", 2e-4, 0.01, 0.0)
    assert (optim["lr_schedule"], optim["warmup_epochs"], optim["max_epochs"]) == \
        ("epoch_cosine", 15, 150)
    assert config["amp"] == "off" and config["loss_clamp"] is True
    epoch = config["data"]["epoch_steps"]
    assert settings.total_steps(config) == 120 * epoch
    assert config["schedule"][0]["crop"] == 128
    weights = {name: task["weight"] for name, task in config["tasks"].items()}
    assert weights == {"denoise_15": 15432, "denoise_25": 15432, "denoise_50": 15432,
                       "derain": 24000, "dehaze": 72135}
    assert epoch == sum(weights.values()) // config["schedule"][0]["batch"]
    assert all(t["augment"] == "no_identity" for t in config["tasks"].values())
    assert {t["sigma"] for t in config["tasks"].values() if t["kind"] == "noise"} == \
        {15, 25, 50}
    assert all(t["quantize"] == "truncate" for t in config["tasks"].values()
               if t["kind"] == "noise")


def test_protocol_settings_are_checked():
    base = {"tasks": {"a": {"kind": "paired", "shards": "x", "quantize": "round"}}}
    with pytest.raises(ConfigError, match="quantize' is for kind noise"):
        settings.validate(base, "finetune")
    with pytest.raises(ConfigError, match="max_epochs"):
        settings.validate({"tasks": {"a": {"kind": "paired", "shards": "x"}},
                           "optim": {"lr_schedule": "epoch_cosine", "warmup_epochs": 20,
                                     "max_epochs": 20}}, "finetune")
    with pytest.raises(ConfigError, match="augment"):
        settings.validate({"data": {"augment": "sometimes"},
                           "tasks": {"a": {"kind": "paired", "shards": "x"}}}, "finetune")
