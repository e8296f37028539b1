"""The official DyNet release format -> an irdata checkpoint.

The authors release Lightning checkpoints whose `state_dict` holds their `DyNet_large`
(or `DyNet_small`: the same keys) under `net.`. The mapping below is written from the
key names alone (no official code is used): each official module prefix has one irdata
counterpart, the layer norms lose their `.body`, the prompt generators' parts are renamed
and their prompt parameter loses its leading 1, and the three `reduce_noise_channel_*`
convs, which the official forward never calls, are dropped and reported. Files are read
with `weights_only=True` only: nothing in them can run."""

from __future__ import annotations

import argparse
import hashlib
import os
import re

import torch

from irdata.errors import UsageError
from irdata.train import models

NET_PREFIX = "net."
# official module prefix -> irdata module prefix (longest official names first)
MODULES = {
    "patch_embed.": "patch_embed.",
    "encoder_level1.": "encoder1.", "encoder_level2.": "encoder2.",
    "encoder_level3.": "encoder3.", "latent.": "latent.",
    "down1_2.": "down1.", "down2_3.": "down2.", "down3_4.": "down3.",
    "prompt3.": "latent_prompt.gen.", "noise_level3.": "latent_prompt.interact.block.",
    "reduce_noise_level3.": "latent_prompt.interact.reduce.",
    "prompt2.": "skip_prompt3.gen.", "noise_level2.": "skip_prompt3.interact.block.",
    "reduce_noise_level2.": "skip_prompt3.interact.reduce.",
    "prompt1.": "skip_prompt2.gen.", "noise_level1.": "skip_prompt2.interact.block.",
    "reduce_noise_level1.": "skip_prompt2.interact.reduce.",
    "up4_3.": "up4_3.", "reduce_chan_level3.": "fuse3.", "decoder_level3.": "decoder3.",
    "up3_2.": "up3_2.", "reduce_chan_level2.": "fuse2.", "decoder_level2.": "decoder2.",
    "up2_1.": "up2_1.", "decoder_level1.": "decoder1.",
    "refinement.": "refinement.", "output.": "output.",
}
UNUSED = re.compile(r"^reduce_noise_channel_[123]\.")  # built, never called by the forward
# parts renamed inside a module
PARTS = ((".norm1.body.", ".norm1."), (".norm2.body.", ".norm2."),
         ("gen.prompt_param", "gen.prompt"), ("gen.linear_layer.", "gen.linear."),
         ("gen.conv3x3.", "gen.conv."))
# what a Lightning checkpoint may hold besides plain containers and tensors
SAFE_GLOBALS = [argparse.Namespace]


def describe(obj) -> str:
    """A short description of what a file held, for error messages."""
    if isinstance(obj, dict):
        keys = sorted(map(str, obj))
        shown = ", ".join(keys[:8]) + (", ..." if len(keys) > 8 else "")
        return f"a dict of {len(keys)} entries ({shown})"
    return f"a {type(obj).__name__}"


def read_file(path: str):
    """The object in a torch file, loaded with weights_only=True (UsageError otherwise)."""
    if not os.path.isfile(path):
        raise UsageError(f"checkpoint not found: {path}")
    try:
        with torch.serialization.safe_globals(SAFE_GLOBALS):
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, not torch, or holding objects we will not load
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        raise UsageError(f"{path}: cannot be read with weights_only=True, and irdata never "
                         f"unpickles ({type(exc).__name__}: {first}); save its state_dict "
                         "alone (torch.save(ckpt['state_dict'], FILE)) and import that") from None


def is_official(obj) -> bool:
    """A Lightning checkpoint (or a bare state_dict) of the official DyNet."""
    tensors = official_tensors(obj)
    return bool(tensors) and "patch_embed.proj.weight" in tensors


def official_tensors(obj) -> dict[str, torch.Tensor]:
    """The official network's tensors under their official names (no `net.`), or {}."""
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj:
        return {}
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
        return {}
    if all(k.startswith(NET_PREFIX) for k in obj):
        return {k[len(NET_PREFIX):]: v for k, v in obj.items()}
    return dict(obj) if any(k.startswith("encoder_level1.") for k in obj) else {}


def rename(name: str) -> str | None:
    """The irdata name of an official tensor; None for a dropped one; KeyError if unknown."""
    if UNUSED.match(name):
        return None
    for official, ours in MODULES.items():
        if name.startswith(official):
            mapped = ours + name[len(official):]
            for old, new in PARTS:
                mapped = mapped.replace(old, new)
            return mapped
    raise KeyError(name)


def convert(tensors: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], list[str]]:
    """(irdata state_dict, dropped official names); UsageError naming unknown tensors."""
    state, dropped, unknown = {}, [], []
    for name, tensor in tensors.items():
        try:
            mapped = rename(name)
        except KeyError:
            unknown.append(name)
            continue
        if mapped is None:
            dropped.append(name)
            continue
        if mapped.endswith("gen.prompt") and tensor.dim() == 5 and tensor.shape[0] == 1:
            tensor = tensor.squeeze(0)  # (1, len, dim, size, size) -> (len, dim, size, size)
        state[mapped] = tensor
    if unknown:
        raise UsageError(f"not the official DyNet: {len(unknown)} tensor(s) with no "
                         f"counterpart ({', '.join(sorted(unknown)[:5])})")
    return state, sorted(dropped)


def _model_for(state: dict[str, torch.Tensor]) -> torch.nn.Module:
    model = models.build({"name": "dynet", "config": "paper"})
    result = model.load_state_dict(state, strict=False)
    problems = [f"missing {', '.join(result.missing_keys[:4])}"] if result.missing_keys else []
    if result.unexpected_keys:
        problems.append(f"unexpected {', '.join(result.unexpected_keys[:4])}")
    if problems:
        raise UsageError("the official weights do not fit DyNet's paper configuration: "
                         + "; ".join(problems))
    return model


def import_checkpoint(path: str) -> tuple[torch.nn.Module, dict]:
    """(DyNet with the official weights, summary {source, sha256, tensors, dropped,
    epoch, global_step, parameters}) from an official checkpoint file."""
    obj = read_file(path)
    tensors = official_tensors(obj)
    if not tensors:
        raise UsageError(f"{path}: not an official DyNet checkpoint (a Lightning file whose "
                         f"state_dict keys start with 'net.'): found {describe(obj)}")
    state, dropped = convert(tensors)
    try:
        model = _model_for(state)
    except RuntimeError as exc:  # a tensor of the wrong shape
        raise UsageError(f"{path}: {str(exc).splitlines()[-1].strip()[:300]}") from None
    meta = obj if isinstance(obj, dict) else {}
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    summary = {"source": os.path.abspath(path), "sha256": digest.hexdigest(), "tensors": len(state),
               "dropped": dropped, "epoch": meta.get("epoch"),
               "global_step": meta.get("global_step"),
               "parameters": sum(p.numel() for p in model.parameters())}
    return model, summary
