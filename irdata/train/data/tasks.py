"""Training samples from raw shard samples: one pure maker per task kind, (rng, WebDataset
sample of bytes, crop) -> (lq, gt, what was applied), float32 HxWx3 in [0, 1], cropped and
flipped/rotated together. On clean patch shards: policy (an irdata.degrade policy input,
DyNet pre-training), noise (Gaussian, fixed sigma on the 0-255 scale), synthetic (one
irdata.degrade kind); on paired shards (degrade stage or `irdata pairs`): paired."""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np

from irdata import degrade
from irdata.degrade.seeding import draw_seed
from irdata.imaging.decode import decode_png
from irdata.train.data.samples import AUGMENT_MODES, augment, pretrain_pair, quantize

Maker = Callable[[np.random.Generator, dict, int], tuple[np.ndarray, np.ndarray, str]]


def _clean(rng: np.random.Generator, sample: dict, crop: int, modes) -> np.ndarray:
    (gt,) = augment(rng, [decode_png(sample["png"])], crop, modes)
    return degrade.to_float(gt)


def policy_maker(policy: dict | None, modes=AUGMENT_MODES["all"]) -> Maker:
    resolved = degrade.resolve_policy(policy)

    def make(rng, sample, crop):
        lq, gt, steps = pretrain_pair(rng, decode_png(sample["png"]), crop, resolved, modes)
        return lq, gt, steps[0][0] if steps else "clean"
    return make


def noise_maker(sigma: float, modes=AUGMENT_MODES["all"], on_grid: str = "off") -> Maker:
    def make(rng, sample, crop):
        gt = _clean(rng, sample, crop, modes)
        params = {"sigma": float(sigma), "seed": draw_seed(rng)}
        lq = quantize(degrade.apply("gaussian_noise", gt, params), on_grid)
        return lq, gt, f"noise{sigma:g}"
    return make


def synthetic_maker(kind: str, config: dict | None, modes=AUGMENT_MODES["all"]) -> Maker:
    degrade.get(kind)

    def make(rng, sample, crop):
        gt = _clean(rng, sample, crop, modes)
        return degrade.apply(kind, gt, degrade.sample(kind, rng, config)), gt, kind
    return make


def paired_maker(modes=AUGMENT_MODES["all"]) -> Maker:
    def make(rng, sample, crop):
        record = json.loads(sample["json"])
        variants = record["variants"]
        variant = variants[int(rng.integers(0, len(variants)))]
        lq = decode_png(sample[f"lq.{variant['variant']}.png"])
        lq, gt = augment(rng, [lq, decode_png(sample["gt.png"])], crop, modes)
        return degrade.to_float(lq), degrade.to_float(gt), variant["kind"]
    return make


def maker_for(task: dict) -> Maker:
    """The maker of one task of a validated training config."""
    kind, modes = task["kind"], AUGMENT_MODES[task.get("augment", "all")]
    if kind == "policy":
        return policy_maker(task["params"] or None, modes)
    if kind == "noise":
        return noise_maker(task["sigma"], modes, task.get("quantize", "off"))
    if kind == "synthetic":
        return synthetic_maker(task["degradation"], task["params"], modes)
    if kind == "paired":
        return paired_maker(modes)
    raise ValueError(f"unknown task kind {kind!r}")


REQUIRED_MEMBERS = {"policy": ("png",), "noise": ("png",), "synthetic": ("png",),
                    "paired": ("gt.png", "json")}
