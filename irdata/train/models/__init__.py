"""Models by name: build one from a config's `model` block, rebuild one from the
spec stored in a checkpoint, and run it with or without a DyNet variant."""

from __future__ import annotations

import torch
from torch import nn

from irdata.train.models.dynet import DyNet, dynet_config
from irdata.train.models.rednet import REDNet


def build(model: dict) -> nn.Module:
    """A model from {name, config, options} (the training config's `model` block)."""
    name, options = model["name"], dict(model.get("options") or {})
    if name == "dynet":
        return DyNet(**{**dynet_config(model.get("config") or "paper"), **options})
    if name == "rednet":
        return REDNet(**options)
    raise ValueError(f"unknown model {name!r}; choose dynet or rednet")


def spec(model: nn.Module) -> dict:
    """What a checkpoint stores to rebuild `model`: {name, options} (full keyword args)."""
    model = unwrap(model)
    if hasattr(model, "spec"):  # a composite (irdata.train.distill): its own spec
        return model.spec()
    name = "dynet" if isinstance(model, DyNet) else "rednet"
    return {"name": name, "config": None, "options": dict(model.config)}


def from_spec(stored: dict) -> nn.Module:
    """Rebuild a model from `spec` output."""
    if stored["name"] == "dynet":
        return DyNet(**stored["options"])
    if stored["name"] == "rednet":
        return REDNet(**stored["options"])
    raise ValueError(f"a {stored['name']} checkpoint holds no single model: use the model "
                     "it exported (a distillation run's student.pt)")


def unwrap(model: nn.Module) -> nn.Module:
    """The model inside DistributedDataParallel (or the model itself)."""
    return getattr(model, "module", model)


def has_variants(model: nn.Module) -> bool:
    return isinstance(unwrap(model), DyNet)


def run(model: nn.Module, x: torch.Tensor, variant: str | None) -> torch.Tensor:
    """model(x, variant) for DyNet, model(x) for single-network models."""
    return model(x, variant) if variant and has_variants(model) else model(x)
