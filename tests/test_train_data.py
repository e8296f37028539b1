"""Training batches streamed from real patch and paired shards made by the stages."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from train_shards import build_train_shards

from irdata.train.data import (
    FLIP_ROTATE_MODES,
    augment,
    flip_rotate,
    paired_dataset,
    patch_dataset,
    random_crop,
)


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    return build_train_shards(tmp_path_factory.mktemp("traindata"))


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


def test_patch_batches_without_degradation_equal_their_targets(shards):
    data = patch_dataset(shards["patches"], crop=64, batch=4, shuffle=1,
                         policy={"p_degrade": 0.0, "p_mask": 0.0})
    batches = list(data)
    assert len(batches) == shards["samples"] // 4
    for inputs, targets, info in batches:
        assert inputs.shape == targets.shape == (4, 3, 64, 64)
        assert inputs.dtype == torch.float32 and float(targets.max()) <= 1.0
        assert torch.equal(inputs, targets)
        assert all(i["steps"] == [] for i in info)


def test_default_policy_modifies_most_inputs(shards):
    data = patch_dataset(shards["patches"], crop=64, batch=2, shuffle=1, resampled=True,
                         epoch_length=40)
    changed = total = 0
    for inputs, targets, info in data:
        for k in range(inputs.shape[0]):
            total += 1
            differs = not torch.equal(inputs[k], targets[k])
            changed += differs
            assert differs == bool(info[k]["steps"])
    assert total == 80
    assert 0.6 < changed / total < 0.95  # 80% expected


def test_paired_batches_carry_their_kind(shards):
    batches = list(paired_dataset(shards["paired"], crop=64, batch=2, shuffle=1))
    assert len(batches) == shards["samples"] // 2
    for lq, gt, info in batches:
        assert lq.shape == gt.shape == (2, 3, 64, 64)
        assert {i["kind"] for i in info} <= {"gaussian_noise", "jpeg"}
        assert not torch.equal(lq, gt)


def test_two_loader_workers_split_the_shards(shards):
    data = patch_dataset(shards["patches"], crop=32, batch=1, shuffle=1)
    loader = torch.utils.data.DataLoader(data, batch_size=None, num_workers=2)
    keys = [info[0]["key"] for _, _, info in loader]
    assert len(keys) == shards["samples"] and len(set(keys)) == shards["samples"]
