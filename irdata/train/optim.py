"""Optimizer and learning-rate schedule from the training config's `optim` block."""

from __future__ import annotations

import math

import torch
from torch import nn


def make_optimizer(model: nn.Module, optim: dict) -> torch.optim.Optimizer:
    """Adam or AdamW over every trainable parameter."""
    cls = torch.optim.AdamW if optim["name"] == "adamw" else torch.optim.Adam
    return cls([p for p in model.parameters() if p.requires_grad], lr=optim["lr"],
               betas=tuple(optim["betas"]), weight_decay=optim["weight_decay"])


def epoch_factor(epoch: int, optim: dict) -> float:
    """The official DyNet schedule (a linear warm-up from 0 then cosine, as PyTorch
    Lightning Bolts' LinearWarmupCosineAnnealingLR computes it) for data epoch `epoch`.
    Lightning steps it at the end of each epoch with the epoch just finished, so epoch
    e >= 1 runs at the schedule's value of e - 1, and epochs 0 and 1 both run at 0."""
    scheduled = max(0, epoch - 1)
    warmup, end = optim["warmup_epochs"], optim["max_epochs"]
    if scheduled < warmup:
        return scheduled / max(1, warmup - 1)
    floor = optim["min_lr"] / optim["lr"] if optim["lr"] else 0.0
    progress = min(1.0, (scheduled - warmup) / max(1, end - warmup))
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def lr_factor(step: int, total: int, optim: dict, epoch_steps: int = 1) -> float:
    """Multiplier of the peak lr at `step`: linear warm-up, then constant or cosine; or,
    for `epoch_cosine`, the official per-epoch schedule (`epoch_steps` steps an epoch)."""
    if optim["lr_schedule"] == "epoch_cosine":
        return epoch_factor(step // epoch_steps, optim)
    warmup = optim["warmup_steps"]
    if warmup and step < warmup:
        return (step + 1) / warmup
    if optim["lr_schedule"] == "constant":
        return 1.0
    floor = optim["min_lr"] / optim["lr"] if optim["lr"] else 0.0
    span = max(1, total - warmup)
    progress = min(1.0, (step - warmup) / span)
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def make_scheduler(optimizer: torch.optim.Optimizer, optim: dict, total: int,
                   epoch_steps: int = 1):
    """LambdaLR over `lr_factor` (its state_dict holds only numbers)."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total, optim, epoch_steps))
