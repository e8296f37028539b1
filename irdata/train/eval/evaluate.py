"""`irdata eval`: PSNR / SSIM of a checkpoint on a pairs folder or on noisy copies of clean
images, beside the input's own scores. On RGB in [0, 1]: the input as read (8-bit), the output
clamped, not rounded (as DyNet and PromptIR report). Noisy inputs: N(0, sigma / 255) from
default_rng(0), restarted per image, clipped and rounded to 8 bits like a saved photo."""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from irdata.degrade import to_float, to_uint8
from irdata.errors import UsageError
from irdata.imaging.files import read_rgb
from irdata.pairs.find import find_pairs
from irdata.sources.folders import is_image_name
from irdata.train.eval.metrics import psnr, ssim
from irdata.train.eval.restore import OVERLAP, TILE, restore_float

NOISE_SEED = 0


def noisy_copy(clean: np.ndarray, sigma: float) -> np.ndarray:
    """8-bit noisy input of a uint8 clean image (seed 0 for every image)."""
    noise = np.random.default_rng(NOISE_SEED).normal(0.0, sigma / 255.0, clean.shape)
    return to_uint8((to_float(clean) + noise.astype(np.float32)).astype(np.float32))


def score(model, name: str, lq: np.ndarray, gt: np.ndarray, variant, tile: int,
          device) -> dict:
    """One image's scores: input vs gt and output vs gt."""
    if lq.shape != gt.shape:
        raise UsageError(f"{name}: input {lq.shape[1]}x{lq.shape[0]} and target "
                         f"{gt.shape[1]}x{gt.shape[0]} differ in size")
    out = restore_float(model, to_float(lq), variant, tile, OVERLAP, device)
    gt_float = to_float(gt)
    return {"image": name, "psnr_in": psnr(gt, lq), "ssim_in": ssim(gt, lq),
            "psnr_out": psnr(gt_float, out), "ssim_out": ssim(gt_float, out)}


def _clean_images(folder: str) -> list[str]:
    if not os.path.isdir(folder):
        raise UsageError(f"--clean: not a folder: {folder}")
    names = sorted(n for n in os.listdir(folder) if is_image_name(n))
    if not names:
        raise UsageError(f"--clean: no images in {folder}")
    return names


def evaluate(model, variant, pairs: str | None = None, clean: str | None = None,
             sigma: float | None = None, tile: int = TILE, device="cpu",
             progress: bool = True) -> dict:
    """{'task', 'rows' (per image), 'mean', 'unmatched', 'seconds'}."""
    started = time.monotonic()
    if pairs:
        found = find_pairs(pairs)
        jobs = [(p.name, lambda p=p: (read_rgb(p.lq), read_rgb(p.gt))) for p in found.pairs]
        task, unmatched = found.task, found.unmatched
    else:
        jobs = [(n, lambda n=n: _noisy_job(os.path.join(clean, n), sigma))
                for n in _clean_images(clean)]
        task, unmatched = f"denoise sigma {sigma:g}", []
    rows = []
    for number, (name, load) in enumerate(jobs, 1):
        lq, gt = load()
        rows.append(score(model, name, lq, gt, variant, tile, device))
        if progress:
            print(f"\r  {number}/{len(jobs)} images", end="", file=sys.stderr, flush=True)
    if progress:
        print(file=sys.stderr)
    mean = {k: float(np.mean([r[k] for r in rows]))
            for k in ("psnr_in", "ssim_in", "psnr_out", "ssim_out")}
    return {"task": task, "rows": rows, "mean": mean, "unmatched": unmatched,
            "seconds": round(time.monotonic() - started, 2)}


def _noisy_job(path: str, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    clean = read_rgb(path)
    return noisy_copy(clean, sigma), clean


def table(result: dict, per_image: bool = False) -> str:
    """The printed table: mean PSNR / SSIM of input and output (and per image)."""
    lines = [f"task: {result['task']}  images: {len(result['rows'])}",
             f"{'':<24} {'PSNR (dB)':>10} {'SSIM':>8}"]
    mean = result["mean"]
    lines.append(f"{'input':<24} {mean['psnr_in']:>10.2f} {mean['ssim_in']:>8.4f}")
    lines.append(f"{'output':<24} {mean['psnr_out']:>10.2f} {mean['ssim_out']:>8.4f}")
    lines.append(f"{'gain':<24} {mean['psnr_out'] - mean['psnr_in']:>+10.2f} "
                 f"{mean['ssim_out'] - mean['ssim_in']:>+8.4f}")
    if per_image:
        lines.append("")
        lines.append(f"{'image':<24} {'PSNR in':>8} {'PSNR out':>9} {'SSIM in':>8} "
                     f"{'SSIM out':>9}")
        for row in result["rows"]:
            lines.append(f"{row['image'][:24]:<24} {row['psnr_in']:>8.2f} "
                         f"{row['psnr_out']:>9.2f} {row['ssim_in']:>8.4f} "
                         f"{row['ssim_out']:>9.4f}")
    if result["unmatched"]:
        lines.append(f"unmatched inputs (skipped): {', '.join(result['unmatched'][:10])}")
    return "\n".join(lines)
