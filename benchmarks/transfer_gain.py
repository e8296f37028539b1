"""Task transfer learning for deraining against plain training, at equal steps.

    python benchmarks/transfer_gain.py --shards S --rain-pairs DIR [--preset cpu-tiny|gpu]
        [--seeds 3] [--few 16] [--work DIR] [--no-record]

S: clean patch shards (a build output or a folder of .tar). The rain the models train on
is irdata's own, at the heavy end (`irdata.degrade.rain.PRESETS["heavy"]`), on a small
set of clean patches: the first `--few` samples of S (a few rain pairs). Evaluation is on
the real pairs of DIR (`irdata eval --pairs`, DyNet-L), a different rain generator, never
trained on. Per seed, the same total steps T = K x Pt + D + F for every arm:
  (a) supervised: the student from scratch on the rain pairs only, T steps;
  (b) TTL: K connected-task teachers (Pt steps each) -> distilled student (D) -> the same
      rain pairs (F), `irdata train transfer`;
  (c) pretrain: DyNet dynamic pre-training on S (K x Pt + D steps) -> the same rain (F).
A distillation step also runs the teachers forward, so (b) costs more time per step:
each arm's minutes are printed. Prints PSNR / SSIM per arm (mean and spread over seeds),
the gains (b) - (a) and (b) - (c) per seed and whether their sign holds, and appends
rows to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pretrain_gain import _write_yaml, gain_line, irdata
from record import append_result, machine

from irdata.degrade import rain
from irdata.shards import ShardFile
from irdata.shards import samples as shard_samples
from irdata.storage import Output

PRESETS = {
    "cpu-tiny": {"model": {"name": "dynet", "config": "tiny"}, "teacher": 125, "distill": 300,
                 "finetune": 300, "crop": 48, "batch": 4, "workers": 1, "device": "cpu"},
    "gpu": {"model": {"name": "dynet", "config": "paper"}, "teacher": 10000, "distill": 40000,
            "finetune": 20000, "crop": 128, "batch": 8, "workers": 8, "device": "cuda"},
    "smoke": {"model": {"name": "dynet", "config": "tiny"}, "teacher": 1, "distill": 2,
              "finetune": 2, "crop": 32, "batch": 2, "workers": 0, "device": "cpu"},
}
TEACHERS = {"denoise": {"kind": "noise", "sigma": 25},
            "deblur": {"kind": "synthetic", "degradation": "blur"},
            "inpaint": {"kind": "synthetic", "degradation": "mask"},
            "deblock": {"kind": "synthetic", "degradation": "jpeg"}}
ARMS = ("supervised", "ttl", "pretrain")


def few_shards(shards: str, count: int, work: str) -> str:
    """The first `count` samples of the shards, copied into one small shard."""
    source, out = Output(shards), Output(os.path.join(work, "few"))
    names = sorted(n for n in os.listdir(shards) if n.endswith(".tar"))
    chosen = itertools.islice((sample for name in names
                               for sample in shard_samples(source, name)), count)
    with ShardFile(out, "00000.tar") as writer:
        for key, members in chosen:
            writer.add(key, members)
    return out.root


def _common(preset: dict, seed: int) -> dict:
    return {"seed": seed, "p_large": 0.5, "log_every": 50, "checkpoint_every": 10**9,
            "data": {"workers": preset["workers"], "shuffle": 64, "epoch_steps": 100}}


def _phase(preset: dict, steps: int) -> dict:
    return {"schedule": [{"steps": steps, "crop": preset["crop"], "batch": preset["batch"]}],
            "optim": {"name": "adamw", "lr": 5.0e-4, "lr_schedule": "cosine",
                      "warmup_steps": 10}}


def rain_task(few: str) -> dict:
    return {"derain": {"kind": "synthetic", "degradation": "rain",
                       "params": dict(rain.PRESETS["heavy"]), "shards": few}}


def total(preset: dict) -> int:
    return len(TEACHERS) * preset["teacher"] + preset["distill"] + preset["finetune"]


def supervised(preset, seed, few, out) -> str:
    config = {**_common(preset, seed), "out": out, "model": preset["model"],
              "tasks": rain_task(few), **_phase(preset, total(preset))}
    irdata("train", "supervised", _write_yaml(out + ".yaml", config))
    return os.path.join(out, "checkpoints", "last.pt")


def ttl(preset, seed, shards, few, out) -> str:
    config = {**_common(preset, seed), "out": out, "shards": shards,
              "teachers": {"model": preset["model"], **_phase(preset, preset["teacher"]),
                           "tasks": TEACHERS},
              "distill": {"model": preset["model"], **_phase(preset, preset["distill"]),
                          "taps": ["latent", "decoder1"]},
              "finetune": {**_phase(preset, preset["finetune"]), "tasks": rain_task(few)}}
    irdata("train", "transfer", _write_yaml(out + ".yaml", config))
    return os.path.join(out, "finetune", "checkpoints", "last.pt")


def pretrain_then_rain(preset, seed, shards, few, out) -> str:
    steps = total(preset) - preset["finetune"]
    config = {**_common(preset, seed), "out": out + "-pretrain", "model": preset["model"],
              **_phase(preset, steps)}
    config["data"] = {**config["data"], "shards": shards, "policy": {"name": "dynet_pretrain"}}
    irdata("train", "pretrain", _write_yaml(out + "-pretrain.yaml", config))
    tuned = {**_common(preset, seed), "out": out,
             "init": os.path.join(out + "-pretrain", "checkpoints", "last.pt"),
             "tasks": rain_task(few), **_phase(preset, preset["finetune"])}
    irdata("train", "finetune", _write_yaml(out + ".yaml", tuned))
    return os.path.join(out, "checkpoints", "last.pt")


def evaluate(ckpt: str, pairs: str, device: str, report: str) -> dict:
    import json

    irdata("eval", "--checkpoint", ckpt, "--variant", "L", "--device", device, "--pairs", pairs,
           "--json", report)
    with open(report) as fh:
        mean = json.load(fh)["mean"]
    return {"psnr": mean["psnr_out"], "ssim": mean["ssim_out"], "psnr_in": mean["psnr_in"]}


def run_seed(preset, seed, shards, few, pairs, work) -> dict:
    runs = os.path.join(work, "runs")
    os.makedirs(runs, exist_ok=True)
    results = {}
    for arm in ARMS:
        out = os.path.join(runs, f"{arm}-seed{seed}")
        started = time.monotonic()
        if arm == "supervised":
            ckpt = supervised(preset, seed, few, out)
        elif arm == "ttl":
            ckpt = ttl(preset, seed, shards, few, out)
        else:
            ckpt = pretrain_then_rain(preset, seed, shards, few, out)
        minutes = (time.monotonic() - started) / 60
        results[arm] = {**evaluate(ckpt, pairs, preset["device"], out + "-eval.json"),
                        "minutes": minutes}
        print(f"seed {seed} {arm}: {results[arm]['psnr']:.2f} dB / {results[arm]['ssim']:.4f}"
              f" ({minutes:.1f} min)", flush=True)
    return results


def _spread(values: list[float], digits: int = 2) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.{digits}f} +- {sd:.{digits}f}"


def summarise(per_seed: list[dict]) -> list[str]:
    lines = [f"input {per_seed[0]['supervised']['psnr_in']:.2f} dB"]
    for arm in ARMS:
        lines.append(f"{arm}: PSNR {_spread([r[arm]['psnr'] for r in per_seed])} dB, SSIM "
                     f"{_spread([r[arm]['ssim'] for r in per_seed], 4)}, "
                     f"{_spread([r[arm]['minutes'] for r in per_seed], 1)} min")
    for name, (better, worse) in (("(b)-(a) TTL over rain only", ("ttl", "supervised")),
                                  ("(b)-(c) TTL over pre-training", ("ttl", "pretrain"))):
        lines.append(gain_line(name, [r[better]["psnr"] - r[worse]["psnr"] for r in per_seed]))
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shards", required=True, help="clean patch shards")
    parser.add_argument("--rain-pairs", required=True, help="real pairs to evaluate on")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu-tiny")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--few", type=int, default=16, help="clean patches given rain")
    parser.add_argument("--work", default=None)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    preset = PRESETS[args.preset]
    work = os.path.abspath(args.work or tempfile.mkdtemp(prefix="irdata-ttl-"))
    os.makedirs(work, exist_ok=True)
    shards = args.shards
    if os.path.isdir(os.path.join(shards, "patches")):
        shards = os.path.join(shards, "patches")
    few = few_shards(shards, args.few, work)
    started = time.monotonic()
    per_seed = [run_seed(preset, seed, shards, few, args.rain_pairs, work)
                for seed in range(args.seeds)]
    lines = summarise(per_seed)
    print("\n".join(lines))
    if not args.no_record:
        setup = (f"preset {args.preset} (T {total(preset)} steps: {len(TEACHERS)} teachers x "
                 f"{preset['teacher']} + distill {preset['distill']} + fine-tune "
                 f"{preset['finetune']}; crop {preset['crop']}, batch {preset['batch']}), "
                 f"{args.seeds} seeds, heavy synthetic rain on {args.few} patches, DyNet-L "
                 f"eval, {(time.monotonic() - started) / 60:.1f} min, {machine()}")
        data = (f"{os.path.basename(os.path.dirname(os.path.abspath(shards)))}; eval "
                f"{os.path.basename(os.path.abspath(args.rain_pairs))} (real)")
        print(append_result("transfer_gain", data, setup, "; ".join(lines)))


if __name__ == "__main__":
    main()
