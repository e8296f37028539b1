"""Training batches streamed by the training loader (`Feed`) from real patch and
paired shards made by the stages, and the per-sample functions it uses."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from train_shards import build_train_shards

from irdata.train import settings
from irdata.train.data.feed import Feed
from irdata.train.data.samples import FLIP_ROTATE_MODES, augment, flip_rotate, random_crop


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    return build_train_shards(tmp_path_factory.mktemp("traindata"))


def pretrain_feed(shards, tmp_path, steps, batch, crop, policy=None, **data) -> Feed:
    """A pre-training Feed over the clean patch shards (one data epoch)."""
    raw = {"out": str(tmp_path), "schedule": [{"steps": steps, "crop": crop, "batch": batch}],
           "data": {"shards": shards["patches"], "workers": 0, "shuffle": 1,
                    "epoch_steps": steps, "policy": policy, **data}}
    return Feed(settings.finalize(settings.validate(raw, "pretrain")))


def paired_feed(shards, tmp_path, steps, batch, crop) -> Feed:
    raw = {"out": str(tmp_path),
           "schedule": [{"steps": steps, "crop": crop, "batch": batch}],
           "data": {"workers": 0, "shuffle": 1, "epoch_steps": steps, "resampled": False},
           "tasks": {"paired": {"kind": "paired", "shards": shards["paired"]}}}
    config = settings.validate(raw, "finetune")
    config["out"] = str(tmp_path)
    return Feed(config)


def test_flip_rotate_gives_eight_distinct_transforms():
    image = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    outs = [flip_rotate(image, mode) for mode in range(FLIP_ROTATE_MODES)]
    assert np.array_equal(outs[0], image)
    assert len({o.tobytes() + bytes(o.shape) for o in outs}) == 8


def test_crop_and_augment_apply_one_window_to_every_image():
    rng = np.random.default_rng(0)
    a = np.random.default_rng(1).integers(0, 255, (64, 80, 3), dtype=np.uint8)
    b = a.copy()
    for crop_a, crop_b in (random_crop(rng, [a, b], 32), augment(rng, [a, b], 32)):
        assert crop_a.shape == (32, 32, 3) and np.array_equal(crop_a, crop_b)
    with pytest.raises(ValueError, match="larger than"):
        random_crop(rng, [a], 128)


def test_patch_batches_without_degradation_equal_their_targets(shards, tmp_path):
    feed = pretrain_feed(shards, tmp_path, steps=shards["samples"] // 4, batch=4, crop=64,
                         policy={"p_degrade": 0.0, "p_mask": 0.0}, resampled=False)
    batches = [batch for _, _, batch in feed.batches(0)]
    assert len(batches) == shards["samples"] // 4
    for batch in batches:
        inputs, targets = batch["lq"], batch["gt"]
        assert inputs.shape == targets.shape == (4, 3, 64, 64)
        assert inputs.dtype == torch.float32 and float(targets.max()) <= 1.0
        assert torch.equal(inputs, targets)
        assert batch["applied"] == ["clean"] * 4


def test_default_policy_modifies_most_inputs(shards, tmp_path):
    feed = pretrain_feed(shards, tmp_path, steps=40, batch=2, crop=64)
    changed = total = 0
    for _, _, batch in feed.batches(0):
        for k in range(batch["lq"].shape[0]):
            total += 1
            differs = not torch.equal(batch["lq"][k], batch["gt"][k])
            changed += differs
            assert differs == (batch["applied"][k] != "clean")
    assert total == 80
    assert 0.6 < changed / total < 0.95  # 80% expected


def test_paired_batches_carry_their_kind(shards, tmp_path):
    feed = paired_feed(shards, tmp_path, steps=shards["samples"] // 2, batch=2, crop=64)
    batches = [batch for _, _, batch in feed.batches(0)]
    assert len(batches) == shards["samples"] // 2
    for batch in batches:
        assert batch["lq"].shape == batch["gt"].shape == (2, 3, 64, 64)
        assert set(batch["applied"]) <= {"gaussian_noise", "jpeg"}
        assert not torch.equal(batch["lq"], batch["gt"])


def test_two_loader_workers_split_the_shards(shards, tmp_path):
    """Split mode: each loader worker reads its own shards, so one pass over as many
    samples as the shards hold serves every key once."""
    feed = pretrain_feed(shards, tmp_path, steps=shards["samples"], batch=1, crop=32,
                         workers=2, resampled=False)
    keys = [batch["key"][0] for _, _, batch in feed.batches(0)]
    assert len(keys) == shards["samples"] and len(set(keys)) == shards["samples"]
