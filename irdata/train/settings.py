"""Training YAML (`irdata train pretrain|finetune CONFIG.yaml`), checked against the
settings declared in training_settings.yaml. The config (every default filled in) is
stored in every checkpoint, so `--resume` keeps its settings; problems raise ConfigError
naming file and key. Every setting: `describe()`."""

from __future__ import annotations

import copy
import os
from typing import Any

from irdata.errors import ConfigError
from irdata.settings_schema import TABLE_HEAD, fill_section, read_fields, read_yaml, table_rows

# supervised: the finetune tasks from a fresh model (teachers, baselines); distill: a
# student learns the `distill.teachers` on those tasks' inputs
MODES = ("pretrain", "finetune", "supervised", "distill")

# every setting, its default, bound and doc: data, in training_settings.yaml
SETTINGS_FILE = os.path.join(os.path.dirname(__file__), "training_settings.yaml")
_DECLARED = read_fields(SETTINGS_FILE)
TOP, MODEL, DATA, PHASE, TASK, OPTIM, DISTILL = (
    _DECLARED[name] for name in ("top", "model", "data", "phase", "task", "optim", "distill"))
MODEL_NAMES = MODEL["name"].choices
TASK_KINDS = TASK["kind"].choices

OPTIM_DEFAULTS = {
    "pretrain": {"name": "adam", "lr": 1e-4, "weight_decay": 0.0, "lr_schedule": "constant",
                 "warmup_steps": 0},
    "finetune": {"name": "adamw", "lr": 2e-4, "weight_decay": 1e-4, "lr_schedule": "cosine",
                 "warmup_steps": 15},
}
OPTIM_DEFAULTS["supervised"] = OPTIM_DEFAULTS["distill"] = OPTIM_DEFAULTS["finetune"]
DEFAULT_SCHEDULE = [{"steps": 1000, "crop": 128, "batch": 8}]


def _schedule(raw: Any, where: str) -> list[dict]:
    if raw is None:
        return copy.deepcopy(DEFAULT_SCHEDULE)
    if not isinstance(raw, list) or not raw:
        raise ConfigError(where, "'schedule' must be a non-empty list of {steps, crop, batch}")
    phases = [fill_section(PHASE, p, where, f"schedule[{i}].") for i, p in enumerate(raw)]
    for i, phase in enumerate(phases):
        if phase["steps"] is None:
            raise ConfigError(where, f"'schedule[{i}].steps' is required")
    return phases


def _task(raw: Any, name: str, where: str) -> dict:
    task = fill_section(TASK, raw, where, f"tasks.{name}.")
    kind = task["kind"]
    if kind is None:
        raise ConfigError(where, f"'tasks.{name}.kind' is required "
                                 f"(one of {', '.join(TASK_KINDS)})")
    if not task["shards"]:
        raise ConfigError(where, f"'tasks.{name}.shards' is required")
    if kind == "noise" and task["sigma"] is None:
        raise ConfigError(where, f"'tasks.{name}.sigma' is required for kind noise")
    if kind == "synthetic":
        _check_degradation(task, name, where)
    if kind != "noise" and task["quantize"] != "off":
        raise ConfigError(where, f"'tasks.{name}.quantize' is for kind noise only")
    return task


def _check_degradation(task: dict, name: str, where: str) -> None:
    from irdata import degrade

    if task["degradation"] not in degrade.KINDS:
        raise ConfigError(where, f"'tasks.{name}.degradation' must be one of "
                                 f"{', '.join(sorted(degrade.KINDS))}, "
                                 f"got {task['degradation']!r}")
    try:
        degrade.sample(task["degradation"], degrade.rng_for(0, "check"), task["params"])
    except (ValueError, TypeError) as exc:
        raise ConfigError(where, f"'tasks.{name}.params': {exc}") from None


def _tasks(raw: Any, mode: str, data: dict, where: str) -> dict[str, dict]:
    if mode == "pretrain":
        if raw is not None:
            raise ConfigError(where, "'tasks' is for finetune; pretrain reads data.shards")
        return {"pretrain": {**{k: f.default for k, f in TASK.items()}, "kind": "policy",
                             "shards": data["shards"], "params": data["policy"] or {}}}
    if not isinstance(raw, dict) or not raw:
        raise ConfigError(where, "'tasks' must map task names to {kind, shards, weight, ...}")
    tasks = {str(name): _task(spec, str(name), where) for name, spec in raw.items()}
    if sum(t["weight"] for t in tasks.values()) <= 0:
        raise ConfigError(where, "'tasks': at least one weight must be > 0")
    return tasks


def _optim(raw: Any, mode: str, where: str) -> dict:
    optim = fill_section(OPTIM, raw, where, "optim.")
    for key, value in OPTIM_DEFAULTS[mode].items():
        if optim[key] is None:
            optim[key] = value
    betas = optim["betas"]
    if len(betas) != 2 or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas):
        raise ConfigError(where, f"'optim.betas' must be two numbers in [0, 1), got {betas}")
    optim["betas"] = [float(b) for b in betas]
    if optim["lr_schedule"] == "epoch_cosine" and optim["max_epochs"] <= optim["warmup_epochs"]:
        raise ConfigError(where, f"'optim.max_epochs' ({optim['max_epochs']}) must exceed "
                                 f"'optim.warmup_epochs' ({optim['warmup_epochs']})")
    return optim


def validate(raw: Any, mode: str, where: str = "") -> dict:
    """Check a parsed training YAML for `mode`; return it with every default."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(where, "the training config must be a YAML mapping")
    known = set(TOP) | {"model", "data", "schedule", "optim", "tasks"} | (
        {"distill"} if mode == "distill" else set())
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(where, f"unknown key '{unknown[0]}' (known: {', '.join(sorted(known))})")
    config = fill_section(TOP, {k: raw[k] for k in TOP if k in raw}, where, "")
    if config["p_large"] > 1:
        raise ConfigError(where, f"'p_large' must be <= 1, got {config['p_large']}")
    config["mode"] = mode
    config["model"] = fill_section(MODEL, raw.get("model"), where, "model.")
    config["data"] = fill_section(DATA, raw.get("data"), where, "data.")
    config["schedule"] = _schedule(raw.get("schedule"), where)
    config["optim"] = _optim(raw.get("optim"), mode, where)
    config["tasks"] = _tasks(raw.get("tasks"), mode, config["data"], where)
    for task in config["tasks"].values():
        task["augment"] = config["data"]["augment"]  # what the task's maker draws from
    if mode == "distill":
        config["distill"] = _distill(raw.get("distill"), config["tasks"], where)
    return config


def _distill(raw: Any, tasks: dict, where: str) -> dict:
    distill = fill_section(DISTILL, raw, where, "distill.")
    teachers = distill["teachers"]
    missing = sorted(set(tasks) - set(teachers))
    unknown = sorted(set(teachers) - set(tasks))
    if missing:
        raise ConfigError(where, f"'distill.teachers' has no checkpoint for task "
                                 f"'{missing[0]}' (every task needs its teacher)")
    if unknown:
        raise ConfigError(where, f"'distill.teachers.{unknown[0]}' names no task of 'tasks' "
                                 f"({', '.join(sorted(tasks))})")
    if not all(isinstance(t, str) and t for t in distill["taps"]):
        raise ConfigError(where, "'distill.taps' must be a list of module names")
    return distill


def finalize(config: dict, where: str = "") -> dict:
    """Checks that need the command-line overrides applied (shards, out, init)."""
    if not config["out"]:
        raise ConfigError(where, "no run folder: set 'out' or pass --out")
    for name, task in config["tasks"].items():
        if not task["shards"]:
            flag = "data.shards (or --shards)" if config["mode"] == "pretrain" else \
                f"tasks.{name}.shards"
            raise ConfigError(where, f"no shards to train on: set {flag}")
    if config["mode"] == "distill":
        for name, path in config["distill"]["teachers"].items():
            if not os.path.isfile(path):
                raise ConfigError(where, f"'distill.teachers.{name}': no checkpoint at {path}")
    if config["mode"] == "finetune" and not config["init"]:
        raise ConfigError(where, "finetune starts from a checkpoint: set 'init' or pass --init")
    return config


def apply_overrides(config: dict, shards: str | None = None, out: str | None = None,
                    steps: int | None = None, init: str | None = None) -> dict:
    """Command-line values replace the file's."""
    if shards:
        config["data"]["shards"] = shards
        for task in config["tasks"].values():
            if task["kind"] == "policy":
                task["shards"] = shards
    if out:
        config["out"] = out
    if steps:
        config["steps"] = steps
    if init:
        config["init"] = init
    return config


def load(path: str, mode: str) -> dict:
    """Read and validate a training YAML file."""
    return validate(read_yaml(path, "training config"), mode, path)


def total_steps(config: dict) -> int:
    return config["steps"] or sum(phase["steps"] for phase in config["schedule"])


def describe() -> str:
    """Markdown table of every training setting and its default."""
    def optim_default(name, spec):
        if spec.default is not None:
            return spec.default
        return " / ".join(str(OPTIM_DEFAULTS[m][name]) for m in MODES[:2]) + \
            " (pretrain / finetune, supervised, distill)"

    rows = list(TABLE_HEAD)
    for prefix, fields in [("", TOP), ("model.", MODEL), ("data.", DATA),
                           ("schedule[].", PHASE), ("tasks.NAME.", TASK),
                           ("distill.", DISTILL)]:
        rows += table_rows(prefix, fields)
    return "\n".join(rows + table_rows("optim.", OPTIM, optim_default))
