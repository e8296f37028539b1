"""Restore images of any size with a trained model: whole when small, else in overlapping
tiles blended with linear ramps (no seams). `restore_array` is the pure core (uint8 in and
out, same size); `restore_path` handles files and folders for `irdata restore`."""

from __future__ import annotations

import os

import numpy as np
import torch

from irdata.degrade import to_float, to_uint8
from irdata.errors import UsageError
from irdata.imaging.files import check_writable, read_rgb, write_rgb
from irdata.sources.folders import is_image_name
from irdata.train import models

TILE = 512
OVERLAP = 32


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Tile origins covering [0, length) with at least `overlap` shared pixels."""
    if length <= tile:
        return [0]
    stride = tile - overlap
    starts = list(range(0, length - tile, stride))
    return starts + [length - tile]


def _ramp(length: int, overlap: int) -> np.ndarray:
    """1 inside, rising linearly over `overlap` pixels at both ends (never 0)."""
    weights = np.ones(length, np.float32)
    if overlap > 0 and length > 2 * overlap:
        rise = (np.arange(overlap, dtype=np.float32) + 1) / (overlap + 1)
        weights[:overlap], weights[-overlap:] = rise, rise[::-1]
    return weights


@torch.no_grad()
def _run(model, image: np.ndarray, variant: str | None, device) -> np.ndarray:
    x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None].to(device)
    y = models.run(model, x, variant).clamp_(0, 1)
    return y[0].permute(1, 2, 0).float().cpu().numpy()


def restore_float(model, image: np.ndarray, variant: str | None = None, tile: int = TILE,
                  overlap: int = OVERLAP, device="cpu") -> np.ndarray:
    """float32 HxWx3 in [0, 1] -> restored float32 HxWx3 in [0, 1], same size."""
    height, width = image.shape[:2]
    if height <= tile and width <= tile:
        return _run(model, image, variant, device)
    total = np.zeros(image.shape, np.float32)
    weight = np.zeros(image.shape[:2] + (1,), np.float32)
    for y in tile_starts(height, tile, overlap):
        for x in tile_starts(width, tile, overlap):
            part = image[y:y + tile, x:x + tile]
            w = np.outer(_ramp(part.shape[0], overlap), _ramp(part.shape[1], overlap))[..., None]
            total[y:y + tile, x:x + tile] += _run(model, part, variant, device) * w
            weight[y:y + tile, x:x + tile] += w
    return total / weight


def restore_array(model, rgb: np.ndarray, variant: str | None = None, tile: int = TILE,
                  overlap: int = OVERLAP, device="cpu") -> np.ndarray:
    """uint8 HxWx3 -> restored uint8 HxWx3 of the same size."""
    if tile <= 2 * overlap:
        raise ValueError(f"tile ({tile}) must be larger than twice the overlap ({overlap})")
    return to_uint8(restore_float(model, to_float(rgb), variant, tile, overlap, device))


def _jobs(source: str, target: str) -> list[tuple[str, str]]:
    if os.path.isdir(source):
        names = sorted(n for n in os.listdir(source) if is_image_name(n))
        if not names:
            raise UsageError(f"{source}: no images in this folder")
        if os.path.isfile(target):
            raise UsageError(f"{target}: is a file; a folder input needs an output folder")
        return [(os.path.join(source, n), os.path.join(target, os.path.splitext(n)[0] + ".png"))
                for n in names]
    if not os.path.isfile(source):
        raise UsageError(f"input not found: {source}")
    if os.path.isdir(target):
        target = os.path.join(target, os.path.splitext(os.path.basename(source))[0] + ".png")
    check_writable(target)
    return [(source, target)]


def restore_path(model, source: str, target: str, variant: str | None = None,
                 tile: int = TILE, overlap: int = OVERLAP, device="cpu") -> list[str]:
    """Restore a file (or every image of a folder) into `target`; returns the outputs."""
    written = []
    for src, dst in _jobs(source, target):
        write_rgb(dst, restore_array(model, read_rgb(src), variant, tile, overlap, device))
        written.append(dst)
    return written
