"""The training loop behind `irdata train pretrain|finetune`.

Each step: the step's batch, a variant (DyNet-L with probability p_large, else S, drawn from
rng_for(seed, "variant", step): the same on every rank and after resume), L1 loss on the
whole patch, backward, gradient clipping, optimizer and scheduler step; bf16 autocast on
CUDA (amp: auto), DDP under torchrun. Resume (RUN/checkpoints/last.pt) continues exactly.
"""

from __future__ import annotations

import contextlib
import json
import os

import torch
import torch.nn.functional as F

from irdata.degrade import rng_for
from irdata.train import checkpoint, distill, distributed, models
from irdata.train.data.feed import Feed
from irdata.train.logs import TrainLog
from irdata.train.optim import make_optimizer, make_scheduler
from irdata.train.settings import total_steps


def choose_variant(model, seed: int, step: int, p_large: float) -> str | None:
    """'L' or 'S' for DyNet (the same on every rank), None for other models."""
    if not models.has_variants(model):
        return None
    return "L" if rng_for(seed, "variant", step).random() < p_large else "S"


def cpu_threads(config: dict, ctx) -> int:
    """`threads`, else the cores left to this rank after its loader workers (more torch
    threads than free cores slow every step down)."""
    if config.get("threads"):
        return config["threads"]
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    per_rank = max(1, (cores or 1) // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1"))))
    return max(1, per_rank - config["data"]["workers"])


def _autocast(amp: str, device: torch.device):
    if amp == "bf16" or (amp == "auto" and device.type == "cuda"):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def _initial_model(config: dict) -> torch.nn.Module:
    torch.manual_seed(config["seed"])
    if config["mode"] == "finetune":
        model, _ = checkpoint.load_model(config["init"])
        return model.train()
    if config["mode"] == "distill":
        return distill.build(config["model"], config["distill"])
    return models.build(config["model"])


def _rebuilt(spec: dict) -> torch.nn.Module:
    return distill.from_spec(spec) if spec["name"] == distill.NAME else models.from_spec(spec)


def _state(config: dict, resume: bool):
    """(config, model, checkpoint state or None, first step)."""
    if not resume:
        return config, _initial_model(config), None, 0
    state = checkpoint.load(checkpoint.latest(config["out"]))
    stored = state["config"]
    stored.update(steps=config["steps"] or stored["steps"], out=config["out"])
    for name, task in stored["tasks"].items():  # moved data: the command line wins
        if name in config["tasks"]:
            task["shards"] = config["tasks"][name]["shards"]
    model = _rebuilt(state["model_spec"])
    model.load_state_dict(state["model"])
    return stored, model, state, state["step"]


def _write_config(config: dict) -> None:
    with open(os.path.join(config["out"], "config.json"), "w", encoding="utf-8") as fh:
        json.dump(config, fh, indent=2, sort_keys=True)


def train(config: dict, resume: bool = False) -> dict:
    """Run (or continue) training; returns {'step', 'loss', 'records'}."""
    ctx = distributed.setup()
    torch.set_num_threads(cpu_threads(config, ctx))
    config, model, state, start = _state(config, resume)
    total = total_steps(config)
    model = model.to(ctx.device).train()
    optimizer = make_optimizer(model, config["optim"])
    scheduler = make_scheduler(optimizer, config["optim"], total,
                               config["data"]["epoch_steps"])
    if state:
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        checkpoint.set_rng_states(state["rng"])
    if ctx.main:
        os.makedirs(config["out"], exist_ok=True)
        _write_config(config)
    net = model
    if ctx.world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None,
            # a batch without some task leaves that teacher's projections without gradient
            find_unused_parameters=config["mode"] == "distill")
    feed = Feed(config, ctx.rank, ctx.world, pin_memory=ctx.device.type == "cuda")
    log = TrainLog(config["out"], config["log_every"], ctx.main, append=resume)
    records, loss_value = [], None
    try:
        for step, segment, batch in feed.batches(start):
            variant = choose_variant(model, config["seed"], step, config["p_large"])
            loss_value = _step(net, optimizer, scheduler, batch, variant, config, ctx)
            log.add(loss_value, variant, batch["task"])
            last = step + 1 == total
            if log.due(step, last):
                loss = distributed.mean(log.mean_loss(), ctx)
                records.append(log.write(step, segment, scheduler.get_last_lr()[0], loss,
                                         feed.take_wait(), ctx.world))
            if last or (step + 1) % config["checkpoint_every"] == 0:
                if ctx.main:
                    checkpoint.save(config["out"], step + 1, model, optimizer, scheduler,
                                    config, {"loss": loss_value}, config["keep_checkpoints"])
                distributed.barrier(ctx)
        drift = distributed.spread(weights_checksum(model), ctx)
    finally:
        del net  # DDP's reducer holds the process group: release it before the group
        distributed.teardown()
    if drift:
        raise RuntimeError(f"ranks ended with different weights (checksum spread {drift})")
    if config["mode"] == "distill" and ctx.main:  # the student alone, for eval and finetune
        checkpoint.save_model(student_path(config["out"]), model.student, total,
                              distilled={"teachers": config["distill"]["teachers"],
                                         "tasks": sorted(config["tasks"])})
    return {"step": total, "loss": loss_value, "records": records, "rank": ctx.rank,
            "world": ctx.world}


def student_path(run: str) -> str:
    """Where a distillation run leaves its student (a plain model checkpoint)."""
    return os.path.join(run, "student.pt")


def weights_checksum(model) -> float:
    """A float64 sum over every parameter: equal on ranks that hold equal weights."""
    with torch.no_grad():
        return float(sum(p.detach().double().sum() for p in model.parameters()))


def _step(net, optimizer, scheduler, batch: dict, variant, config: dict, ctx) -> float:
    lq = batch["lq"].to(ctx.device, non_blocking=True)
    gt = batch["gt"].to(ctx.device, non_blocking=True)
    with _autocast(config["amp"], ctx.device):
        if config["mode"] == "distill":  # the Distiller computes its own loss
            loss = net(lq, variant, gt=gt, tasks=batch["task"]).float()
        else:
            restored = models.run(net, lq, variant).float()
    if config["mode"] != "distill":
        loss = F.l1_loss(restored.clamp(0.0, 1.0) if config["loss_clamp"] else restored, gt)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if config["optim"]["grad_clip"] > 0:
        torch.nn.utils.clip_grad_norm_(net.parameters(), config["optim"]["grad_clip"])
    optimizer.step()
    scheduler.step()
    return float(loss.detach())
