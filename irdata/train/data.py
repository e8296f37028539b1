"""Training data from WebDataset shards: clean patch shards (inputs made online by
the `irdata.degrade` policy) and paired shards (gt + stored lq variants).

Pure per-sample functions (`random_crop`, `flip_rotate`, `pretrain_pair`) plus
`patch_dataset` / `paired_dataset`, which wire them into a WebDataset pipeline
with shard shuffling, `split_by_node`, `split_by_worker`, a shuffle buffer, an
optional resampled mode with a fixed epoch length, and batching.

Only PNG and JSON members are decoded, by irdata's own functions: nothing is
ever unpickled.
"""

from __future__ import annotations

import json

import numpy as np

from irdata import degrade
from irdata.imaging.decode import decode_png

FLIP_ROTATE_MODES = 8


def random_crop(rng: np.random.Generator, images: list[np.ndarray], size: int
                ) -> list[np.ndarray]:
    """The same size x size window of each (equally sized) image."""
    height, width = images[0].shape[:2]
    if min(height, width) < size:
        raise ValueError(f"crop {size} larger than the {width}x{height} patch")
    y = int(rng.integers(0, height - size + 1))
    x = int(rng.integers(0, width - size + 1))
    return [image[y:y + size, x:x + size] for image in images]


def flip_rotate(image: np.ndarray, mode: int) -> np.ndarray:
    """One of the 8 dihedral transforms: rotate by 90 * (mode % 4), flip if mode >= 4."""
    out = np.rot90(image, k=mode % 4)
    return np.ascontiguousarray(out[:, ::-1] if mode >= 4 else out)


def augment(rng: np.random.Generator, images: list[np.ndarray], size: int
            ) -> list[np.ndarray]:
    """Random crop plus a random flip/rotation, the same for every image of a sample."""
    mode = int(rng.integers(0, FLIP_ROTATE_MODES))
    return [flip_rotate(image, mode) for image in random_crop(rng, images, size)]


def to_tensor_layout(image: np.ndarray) -> np.ndarray:
    """HxWx3 float32 -> 3xHxW float32 (contiguous), ready for torch.from_numpy."""
    return np.ascontiguousarray(image.transpose(2, 0, 1))


def pretrain_pair(rng: np.random.Generator, gt_uint8: np.ndarray, crop: int,
                  policy: dict | None) -> tuple[np.ndarray, np.ndarray, list]:
    """(input, target, steps) for pre-training: augmented gt and its policy input."""
    (gt,) = augment(rng, [gt_uint8], crop)
    target = degrade.to_float(gt)
    steps = degrade.policy_sample(rng, policy)
    return degrade.policy_apply(target, steps), target, steps


class _SampleRng:
    """Per-sample generators from (seed, key, epoch): reproducible, order-free."""

    def __init__(self, seed: int):
        self.seed, self.epochs = seed, {}

    def __call__(self, key: str) -> np.random.Generator:
        epoch = self.epochs.get(key, 0)
        self.epochs[key] = epoch + 1
        return degrade.rng_for(self.seed, key, 1000 + epoch)


def _webdataset(urls, shuffle: int, resampled: bool, seed: int):
    import webdataset as wds

    return wds.WebDataset(urls, resampled=resampled, shardshuffle=False if resampled else 100,
                          nodesplitter=wds.split_by_node, workersplitter=wds.split_by_worker,
                          handler=wds.warn_and_continue, empty_check=False, seed=seed
                          ).shuffle(shuffle)


def _batched(dataset, batch: int, epoch_length: int | None):
    import torch

    def collate(samples):
        inputs, targets = zip(*[(s[0], s[1]) for s in samples], strict=True)
        return (torch.from_numpy(np.stack(inputs)), torch.from_numpy(np.stack(targets)),
                [s[2] for s in samples])

    dataset = dataset.batched(batch, collation_fn=collate, partial=False)
    return dataset.with_epoch(epoch_length) if epoch_length else dataset


def patch_dataset(urls, crop: int = 128, batch: int = 8, policy: dict | None = None,
                  seed: int = 0, shuffle: int = 1000, resampled: bool = False,
                  epoch_length: int | None = None):
    """Batches (input Bx3xHxW, target Bx3xHxW, info) from clean patch shards.

    `urls`: a list, a brace pattern ("patches/{00000..00099}.tar") or fsspec URLs.
    `epoch_length` (in batches) fixes the epoch in resampled mode (multi-GPU)."""
    rng_for = _SampleRng(seed)

    def make(sample):
        lq, gt, steps = pretrain_pair(rng_for(sample["__key__"]), decode_png(sample["png"]),
                                      crop, policy)
        info = {"key": sample["__key__"], "steps": steps}
        return to_tensor_layout(lq), to_tensor_layout(gt), info

    dataset = _webdataset(urls, shuffle, resampled, seed).map(make)
    return _batched(dataset, batch, epoch_length)


def paired_dataset(urls, crop: int = 128, batch: int = 8, seed: int = 0,
                   shuffle: int = 1000, resampled: bool = False,
                   epoch_length: int | None = None, task: str | None = None):
    """Batches (lq, gt, info) from paired shards; one stored variant per sample,
    chosen at random; `info` carries the key, the variant's kind and the task."""
    rng_for = _SampleRng(seed)

    def make(sample):
        rng = rng_for(sample["__key__"])
        record = json.loads(sample["json"])
        variant = record["variants"][int(rng.integers(0, len(record["variants"])))]
        gt = decode_png(sample["gt.png"])
        lq = decode_png(sample[f"lq.{variant['variant']}.png"])
        lq, gt = augment(rng, [lq, gt], crop)
        info = {"key": sample["__key__"], "kind": variant["kind"],
                "task": task or record.get("task") or variant["kind"]}
        return (to_tensor_layout(degrade.to_float(lq)), to_tensor_layout(degrade.to_float(gt)),
                info)

    dataset = _webdataset(urls, shuffle, resampled, seed).map(make)
    return _batched(dataset, batch, epoch_length)
