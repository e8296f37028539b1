"""`irdata train transfer CONFIG`: task transfer learning for deraining, three phases.

1. teachers: one model per connected task (`teachers.tasks`: noise, blur, masks, JPEG by
   default), each trained from scratch on the clean patch shards (`shards`) with that
   task's inputs -> RUN/teachers/NAME/;
2. distill: a student learns all teachers at once on the same inputs (outputs and the
   features at `distill.taps`) -> RUN/student/ (and RUN/student/student.pt);
3. finetune: the student on the few rain pairs (`finetune.tasks`) -> RUN/finetune/.
Each phase is an ordinary run of the loop (supervised, distill, finetune), so it logs to
its log.jsonl, records its config (teachers, tasks, shards) in config.json and resumes
exactly; a finished phase is skipped. Every phase's config is checked, and the taps
tried on the student and teacher models, before the first step."""

from __future__ import annotations

import copy
import os
from typing import Any

from irdata.errors import ConfigError
from irdata.settings_schema import read_yaml
from irdata.train import checkpoint, distill, loop, models, settings

DEFAULT_TEACHERS = {"denoise": {"kind": "noise", "sigma": 25},
                    "deblur": {"kind": "synthetic", "degradation": "blur"},
                    "inpaint": {"kind": "synthetic", "degradation": "mask"},
                    "deblock": {"kind": "synthetic", "degradation": "jpeg"}}
TOP_KEYS = {"seed", "out", "shards", "data", "p_large", "amp", "threads", "log_every",
            "checkpoint_every", "keep_checkpoints", "teachers", "distill", "finetune"}
SHARED = ("seed", "p_large", "amp", "threads", "log_every", "checkpoint_every",
          "keep_checkpoints")
PHASE_KEYS = {"teachers": {"model", "schedule", "optim", "tasks"},
              "distill": {"model", "schedule", "optim", "taps", "output_weight",
                          "feature_weight", "gt_weight"},
              "finetune": {"schedule", "optim", "tasks"}}


def _section(raw: dict, name: str, where: str) -> dict:
    value = raw.get(name) or {}
    if not isinstance(value, dict):
        raise ConfigError(where, f"'{name}' must be a mapping")
    unknown = sorted(set(value) - PHASE_KEYS[name])
    if unknown:
        raise ConfigError(where, f"unknown key '{name}.{unknown[0]}' (known: "
                                 f"{', '.join(sorted(PHASE_KEYS[name]))})")
    return value


def _common(raw: dict) -> dict:
    return {key: raw[key] for key in SHARED if key in raw}


def _teacher_config(raw: dict, name: str, task: dict, run: str) -> dict:
    teachers = raw.get("teachers") or {}
    return {**_common(raw), "out": os.path.join(run, "teachers", name),
            "model": teachers.get("model"), "data": raw.get("data"),
            "schedule": teachers.get("schedule"), "optim": teachers.get("optim"),
            "tasks": {name: {**task, "shards": raw.get("shards")}}}


def _distill_config(raw: dict, tasks: dict, run: str) -> dict:
    section = dict(raw.get("distill") or {})
    head = {k: section.pop(k) for k in ("model", "schedule", "optim") if k in section}
    teachers = {name: checkpoint_of(run, name) for name in tasks}
    return {**_common(raw), "out": os.path.join(run, "student"), "model": head.get("model"),
            "data": raw.get("data"), "schedule": head.get("schedule"),
            "optim": head.get("optim"),
            "tasks": {name: {**task, "shards": raw.get("shards")} for name, task in tasks.items()},
            "distill": {**section, "teachers": teachers}}


def _finetune_config(raw: dict, run: str) -> dict:
    section = raw.get("finetune") or {}
    return {**_common(raw), "out": os.path.join(run, "finetune"),
            "init": loop.student_path(os.path.join(run, "student")), "data": raw.get("data"),
            "schedule": section.get("schedule"), "optim": section.get("optim"),
            "tasks": section.get("tasks")}


def checkpoint_of(run: str, teacher: str) -> str:
    return os.path.join(run, "teachers", teacher, checkpoint.FOLDER, checkpoint.LAST)


def plan(raw: Any, where: str, run: str | None = None) -> list[tuple[str, dict]]:
    """[(phase name, validated loop config)] in order; ConfigError before any training."""
    if not isinstance(raw, dict):
        raise ConfigError(where, "the transfer config must be a YAML mapping")
    unknown = sorted(set(raw) - TOP_KEYS)
    if unknown:
        known = ", ".join(sorted(TOP_KEYS))
        raise ConfigError(where, f"unknown key '{unknown[0]}' (known: {known})")
    for name in PHASE_KEYS:
        _section(raw, name, where)
    run = run or raw.get("out")
    if not run:
        raise ConfigError(where, "no run folder: set 'out' or pass --out")
    if not raw.get("shards"):
        raise ConfigError(where, "'shards' (clean patch shards for the teachers) is required")
    tasks = (raw.get("teachers") or {}).get("tasks", DEFAULT_TEACHERS)
    if not isinstance(tasks, dict) or not tasks:
        raise ConfigError(where, "'teachers.tasks' must name at least one connected task")
    if not (raw.get("finetune") or {}).get("tasks"):
        raise ConfigError(where, "'finetune.tasks' (the rain pairs) is required")
    phases = [(f"teacher {name}", settings.validate(_teacher_config(raw, name, task, run),
                                                    "supervised", f"{where} (teachers.{name})"))
              for name, task in tasks.items()]
    student = _distill_config(raw, tasks, run)
    checked = settings.validate(student, "distill", f"{where} (distill)")
    _try_taps(checked, phases[0][1]["model"], where)
    phases.append(("distill", checked))
    phases.append(("finetune", settings.validate(_finetune_config(raw, run), "finetune",
                                                 f"{where} (finetune)")))
    return phases


def _try_taps(config: dict, teacher_model: dict, where: str) -> None:
    """The distiller built from fresh student and teacher models: bad taps fail here."""
    try:
        distill.Distiller(models.build(config["model"]),
                          {name: models.build(teacher_model) for name in config["tasks"]},
                          {k: v for k, v in config["distill"].items() if k != "teachers"},
                          config["distill"]["teachers"])
    except ConfigError as exc:
        raise ConfigError(where, str(exc)) from None


def _progress(config: dict) -> int | None:
    """The step a phase's run reached (None: not started)."""
    last = os.path.join(checkpoint.folder(config["out"]), checkpoint.LAST)
    return checkpoint.load(last)["step"] if os.path.isfile(last) else None


def run(path: str, out: str | None = None, report=print) -> str:
    """Every phase in order, resuming an interrupted one and skipping finished ones;
    returns the fine-tuned student's checkpoint."""
    phases = plan(copy.deepcopy(read_yaml(path, "transfer config")), path, out)
    for name, config in phases:
        reached, total = _progress(config), settings.total_steps(config)
        exported = name != "distill" or os.path.isfile(loop.student_path(config["out"]))
        if reached == total and exported:
            report(f"irdata: {name}: done ({total} steps), skipped")
            continue
        state = f"resuming at step {reached}" if reached is not None else "training"
        report(f"irdata: {name}: {state} -> {config['out']}")
        settings.finalize(config, path)  # the teachers exist by now
        loop.train(config, resume=reached is not None)
    return os.path.join(checkpoint.folder(phases[-1][1]["out"]), checkpoint.LAST)
