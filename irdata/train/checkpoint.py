"""Checkpoints: model, optimizer, scheduler, step, RNG states and config in one file,
`RUN/checkpoints/step_NNNNNNN.pt`, with `last.pt` a hard link to the newest (replaced
atomically). Only tensors, numbers, strings, lists and dicts, always loaded with
`weights_only=True`: a checkpoint cannot run code."""

from __future__ import annotations

import os
import re

import torch
from torch import nn

from irdata.errors import UsageError
from irdata.train import models

FORMAT = "irdata-checkpoint/1"
FOLDER = "checkpoints"
LAST = "last.pt"
_STEP_RE = re.compile(r"^step_(\d+)\.pt$")


def folder(run: str) -> str:
    return os.path.join(run, FOLDER)


def rng_states() -> dict:
    states = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict) -> None:
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def save(run: str, step: int, model: nn.Module, optimizer, scheduler, config: dict,
         metrics: dict, keep: int) -> str:
    """Write step_{step}.pt atomically, point last.pt at it, prune old step files."""
    os.makedirs(folder(run), exist_ok=True)
    path = os.path.join(folder(run), f"step_{step:07d}.pt")
    state = {"format": FORMAT, "step": step, "model": models.unwrap(model).state_dict(),
             "model_spec": models.spec(model), "optimizer": optimizer.state_dict(),
             "scheduler": scheduler.state_dict(), "rng": rng_states(), "config": config,
             "metrics": metrics}
    _atomic_save(state, path)
    link = os.path.join(folder(run), f".{LAST}.tmp")
    if os.path.lexists(link):
        os.remove(link)
    os.link(path, link)
    os.replace(link, os.path.join(folder(run), LAST))
    _prune(run, keep)
    return path


def _atomic_save(state: dict, path: str) -> None:
    tmp = f"{path}.tmp-{os.getpid()}"
    torch.save(state, tmp)
    os.replace(tmp, path)


def _prune(run: str, keep: int) -> None:
    steps = sorted(step_files(run))
    for _, name in steps[:max(0, len(steps) - keep)]:
        last = os.path.join(folder(run), LAST)
        path = os.path.join(folder(run), name)
        if not (os.path.exists(last) and os.path.samefile(path, last)):
            os.remove(path)


def step_files(run: str) -> list[tuple[int, str]]:
    if not os.path.isdir(folder(run)):
        return []
    found = [(_STEP_RE.match(n), n) for n in os.listdir(folder(run))]
    return [(int(m.group(1)), n) for m, n in found if m]


def load(path: str, device: str | torch.device = "cpu") -> dict:
    """A checkpoint's contents (weights_only=True); UsageError for a bad file."""
    if not os.path.isfile(path):
        raise UsageError(f"checkpoint not found: {path}")
    from irdata.train import official

    try:
        with torch.serialization.safe_globals(official.SAFE_GLOBALS):
            state = torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:  # a truncated, foreign or code-carrying file
        raise UsageError(f"{path}: not a loadable irdata checkpoint "
                         f"({type(exc).__name__}: {str(exc).splitlines()[0][:200]})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        if official.is_official(state):
            raise UsageError(f"{path}: an official DyNet checkpoint, not an irdata one: "
                             f"convert it first with `irdata train import {path} --out "
                             "FILE.pt`")
        raise UsageError(f"{path}: not an irdata checkpoint (format {FORMAT} expected): "
                         f"found {official.describe(state)}")
    return state


def save_model(path: str, model: nn.Module, step: int = 0, **about) -> None:
    """An irdata checkpoint of a model alone: weights and spec, no optimizer (what eval,
    restore and `finetune --init` read), with `about` (where the weights came from)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    _atomic_save({"format": FORMAT, "step": step, "model": models.unwrap(model).state_dict(),
                  "model_spec": models.spec(model), "metrics": {}, **about}, path)


def save_imported(path: str, model: nn.Module, imported: dict) -> None:
    """An irdata checkpoint of imported weights (step 0) and where they came from."""
    save_model(path, model, imported=imported)


def latest(run: str) -> str:
    """Path of the newest checkpoint of a run folder, or UsageError."""
    path = os.path.join(folder(run), LAST)
    if not os.path.isfile(path):
        raise UsageError(f"--resume: no checkpoint in {folder(run)}")
    return path


def load_model(path: str, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """(model in eval mode on `device`, checkpoint) from a checkpoint file."""
    state = load(path, device)
    try:
        model = models.from_spec(state["model_spec"])
    except ValueError as exc:  # e.g. a distillation run's checkpoint
        raise UsageError(f"{path}: {exc}") from None
    model.load_state_dict(state["model"])
    return model.to(device).eval(), state
