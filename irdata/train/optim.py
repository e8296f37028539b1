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


def lr_factor(step: int, total: int, optim: dict) -> float:
    """Multiplier of the peak lr at `step`: linear warm-up, then constant or cosine."""
    warmup = optim["warmup_steps"]
    if warmup and step < warmup:
        return (step + 1) / warmup
    if optim["lr_schedule"] == "constant":
        return 1.0
    floor = optim["min_lr"] / optim["lr"] if optim["lr"] else 0.0
    span = max(1, total - warmup)
    progress = min(1.0, (step - warmup) / span)
    return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def make_scheduler(optimizer: torch.optim.Optimizer, optim: dict, total: int):
    """LambdaLR over `lr_factor` (its state_dict holds only numbers)."""
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total, optim))
