"""DyNet-S and DyNet-L training speed: seconds per forward+backward iteration.

    python benchmarks/model_speed.py [--device cpu|cuda] [--batch 2] [--size 128]
                                     [--iters 3] [--threads N] [--config paper]

One shared-weight model (the paper configuration by default), L1 loss on random
inputs, forward + backward (no optimizer step); one warm-up iteration per variant,
then the median of --iters with S and L alternating. Prints one line per variant
and appends a row to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from record import append_result, machine

from irdata.train.models.dynet import DyNet


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def one_iteration(model: DyNet, variant: str, x: torch.Tensor, target: torch.Tensor) -> float:
    model.zero_grad(set_to_none=True)
    _sync(x.device)
    start = time.perf_counter()
    torch.nn.functional.l1_loss(model(x, variant), target).backward()
    _sync(x.device)
    return time.perf_counter() - start


def seconds_per_iteration(model: DyNet, batch: int, size: int, iters: int,
                          device: torch.device) -> dict[str, float]:
    """Median seconds per variant; S and L alternate so both see the same machine load."""
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(batch, 3, size, size, generator=gen).to(device)
    target = torch.rand(batch, 3, size, size, generator=gen).to(device)
    times: dict[str, list[float]] = {"S": [], "L": []}
    for variant in times:  # warm-up
        one_iteration(model, variant, x, target)
    for _ in range(iters):
        for variant in times:
            times[variant].append(one_iteration(model, variant, x, target))
    return {variant: statistics.median(t) for variant, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch default)")
    parser.add_argument("--config", default="paper", choices=["paper", "tiny"])
    parser.add_argument("--no-record", action="store_true", help="do not touch BENCHMARKS.md")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = DyNet.from_config(args.config).to(device).train()
    params = sum(p.numel() for p in model.parameters())

    results = seconds_per_iteration(model, args.batch, args.size, args.iters, device)
    for variant in results:
        print(f"DyNet-{variant} f={list(model.repeats(variant))}: "
              f"{results[variant]:.3f} s/iteration (forward+backward)")

    where = (torch.cuda.get_device_name(device) if device.type == "cuda"
             else f"CPU, {machine()}, {torch.get_num_threads()} threads")
    setup = (f"{args.config} config ({params / 1e6:.2f}M params), batch {args.batch}, "
             f"{args.size}x{args.size}, fp32, {where}, median of {args.iters}")
    result = ", ".join(f"DyNet-{v} {s:.3f} s/it" for v, s in results.items())
    if not args.no_record:
        print(append_result("model_speed (forward+backward)", "random tensors", setup, result))


if __name__ == "__main__":
    main()
