"""Process group set-up under torchrun (RANK, WORLD_SIZE, LOCAL_RANK): NCCL on
CUDA, gloo on CPU; a single process needs nothing."""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Context:
    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0


def setup() -> Context:
    """Join the torchrun process group if there is one; pick the device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank, local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    else:
        device = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Context(rank, world, local_rank, device)


def mean(value: float, ctx: Context) -> float:
    """The mean of `value` over all ranks (a collective: every rank must call it)."""
    if ctx.world == 1:
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=ctx.device)
    dist.all_reduce(tensor)
    return float(tensor.item()) / ctx.world


def spread(value: float, ctx: Context) -> float:
    """max - min of `value` over all ranks (0 on one process; a collective)."""
    if ctx.world == 1:
        return 0.0
    high = torch.tensor([value], dtype=torch.float64, device=ctx.device)
    low = -high.clone()
    dist.all_reduce(high, op=dist.ReduceOp.MAX)
    dist.all_reduce(low, op=dist.ReduceOp.MAX)
    return float(high.item() + low.item())


def barrier(ctx: Context) -> None:
    if ctx.world > 1:
        dist.barrier()


def teardown() -> None:
    """Leave the process group together and while Python is fully alive: gloo's work
    objects hold tensors, and freeing them during interpreter shutdown aborts the
    process ("terminate called without an active exception")."""
    if dist.is_initialized():
        try:
            dist.barrier()
        finally:
            gc.collect()  # DDP's reducer and finished work objects, freed now
            dist.destroy_process_group()
            gc.collect()
