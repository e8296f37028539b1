"""Does dynamic pre-training on irdata shards help, at equal compute? And does curation?

    python benchmarks/pretrain_gain.py --eval-noise CLEAN_DIR --eval-pairs PAIRS_DIR
        (--shards S [--uncurated U] | --photos DIR) [--preset cpu-tiny|gpu] [--seeds 3]
        [--work DIR] [--no-record]

Three arms, each seed the same model initialisation, the same fine-tune data and steps:
  (a) scratch:   fine-tune from the initialisation for P + F steps;
  (b) curated:   dynamic pre-training for P steps on the curated patch shards S, then
                 fine-tune F steps;
  (c) uncurated: as (b) on shards of the same photos built with the source quality gates,
                 the cell gates and the flat filter off (U).
S is a build output (or its patches/ folder); U, if not given, is built again from the
sources S's run.json recorded, gates off. With --photos DIR the script builds S (the
pipeline defaults) and U itself.
The fine-tune is all-in-one over two tasks: Gaussian noise (sigma 25) on the first half
of CLEAN_DIR (sorted names; whole images as clean shards, `irdata pairs --task denoise`)
and rain on the first half of PAIRS_DIR's pairs (`irdata pairs`). Evaluation is `irdata
eval` on the held-back halves (noise sigma 25; the pairs), DyNet-L. Prints PSNR / SSIM
per arm and task (mean and spread over seeds), the gains (b) - (a) and (b) - (c) per
seed, whether their sign holds over every seed, and appends rows to BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import torch
import yaml

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from image_files import image_files
from record import append_result, machine

from irdata.pairs.find import find_pairs
from irdata.train import checkpoint, models

PRESETS = {
    # P pre-training steps, F fine-tune steps; the rest as the tiny pipelines
    "cpu-tiny": {"model": {"name": "dynet", "config": "tiny"}, "pretrain": 500,
                 "finetune": 500, "crop": 48, "batch": 4, "workers": 1, "device": "cpu"},
    "gpu": {"model": {"name": "dynet", "config": "paper"}, "pretrain": 20000,
            "finetune": 20000, "crop": 128, "batch": 8, "workers": 8, "device": "cuda"},
    "smoke": {"model": {"name": "dynet", "config": "tiny"}, "pretrain": 2, "finetune": 2,
              "crop": 32, "batch": 2, "workers": 0, "device": "cpu"},  # tests only
}
UNCURATED = {"quality": {"enabled": False},
             "patch": {"max_flat_fraction": 1.0, "max_clipped": 1.0, "max_crushed": 1.0,
                       "max_blockiness": 1.0e9, "max_noise": 1.0e9, "min_sharpness": -1.0e9}}
SIGMA = 25
ARMS = ("scratch", "curated", "uncurated")


def irdata(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "irdata", *args], check=True,
                   stdout=subprocess.DEVNULL)


def _write_yaml(path: str, config: dict) -> str:
    with open(path, "w") as fh:
        yaml.safe_dump(config, fh, sort_keys=False)
    return path


def build_shards(photos: str, work: str) -> tuple[str, str, dict]:
    """Curated (defaults) and uncurated (gates and flat filter off) patch shards."""
    kept = {}
    for name, extra in (("curated", {}), ("uncurated", UNCURATED)):
        out = os.path.join(work, name)
        pipeline = {"sources": [{"name": "photos", "dir": os.path.abspath(photos)}],
                    "output": out, **extra}
        irdata("build", _write_yaml(os.path.join(work, f"{name}.yaml"), pipeline))
        kept[name] = _samples(os.path.join(out, "patches"))
    return os.path.join(work, "curated", "patches"), os.path.join(work, "uncurated",
                                                                   "patches"), kept


def recorded_build(shards: str) -> tuple[dict, str] | None:
    """(pipeline, output folder) of the build whose patch shards `shards` are (a build
    output or its patches/ folder), from the config its run.json recorded."""
    for folder in (shards, os.path.dirname(os.path.abspath(shards))):
        path = os.path.join(folder, "run.json")
        if os.path.isfile(path):
            with open(path) as fh:
                config = json.load(fh)["config"]
            config["sources"] = [{k: v for k, v in source.items() if k != "kind"}
                                 for source in config["sources"]]
            if not isinstance(config.get("storage_options"), dict):
                config.pop("storage_options", None)  # redacted: from the environment
            return config, folder
    return None


def rebuild_uncurated(shards: str, work: str) -> str:
    """The sources of the build behind `shards`, built again with the gates off."""
    found = recorded_build(shards)
    if found is None:
        sys.exit(f"pretrain_gain: no run.json beside {shards}: give --uncurated, or --photos")
    config, _ = found
    for section, values in UNCURATED.items():
        config[section] = {**config.get(section, {}), **values}
    config["output"] = os.path.join(work, "uncurated")
    irdata("build", _write_yaml(os.path.join(work, "uncurated.yaml"), config))
    return os.path.join(work, "uncurated", "patches")


def _samples(shards: str) -> int:
    import tarfile

    count = 0
    for name in sorted(os.listdir(shards)):
        if name.endswith(".tar"):
            with tarfile.open(os.path.join(shards, name)) as tar:
                count += sum(1 for m in tar.getmembers() if m.name.endswith(".png"))
    return count


def split_clean(folder: str, work: str) -> tuple[str, str]:
    """First half of the sorted images -> work/noise-train, the rest -> work/noise-eval."""
    names = image_files(folder)
    half = len(names) // 2
    for part, chosen in (("noise-train", names[:half]), ("noise-eval", names[half:])):
        os.makedirs(os.path.join(work, part), exist_ok=True)
        for name in chosen:
            shutil.copy(os.path.join(folder, name),
                        os.path.join(work, part, name.replace(os.sep, "_")))
    return os.path.join(work, "noise-train"), os.path.join(work, "noise-eval")


def split_pairs(folder: str, work: str) -> tuple[str, str]:
    """First half of the pairs -> work/rain-train, the rest -> work/rain-eval."""
    found = find_pairs(folder)
    half = len(found.pairs) // 2
    for part, pairs in (("rain-train", found.pairs[:half]), ("rain-eval", found.pairs[half:])):
        for pair in pairs:
            for path in (pair.lq, pair.gt):
                target = os.path.join(work, part, os.path.basename(os.path.dirname(path)))
                os.makedirs(target, exist_ok=True)
                shutil.copy(path, target)
    return os.path.join(work, "rain-train"), os.path.join(work, "rain-eval")


def _phase(preset: dict, steps: int) -> list[dict]:
    return [{"steps": steps, "crop": preset["crop"], "batch": preset["batch"]}]


def initial_checkpoint(preset: dict, seed: int, work: str) -> str:
    """The seed's initialisation, as `irdata train pretrain` draws it (seed, then build)."""
    torch.manual_seed(seed)
    model = models.build(preset["model"])
    path = os.path.join(work, f"init-seed{seed}.pt")
    checkpoint.save_imported(path, model, {"source": f"random initialisation, seed {seed}"})
    return path


def pretrain(preset: dict, seed: int, shards: str, out: str) -> str:
    config = {"seed": seed, "out": out, "model": preset["model"], "p_large": 0.5,
              "data": {"shards": shards, "workers": preset["workers"], "shuffle": 64,
                       "epoch_steps": 100, "policy": {"name": "dynet_pretrain"}},
              "schedule": _phase(preset, preset["pretrain"]),
              "optim": {"name": "adam", "lr": 5.0e-4, "grad_clip": 0.01},
              "log_every": 50, "checkpoint_every": 10**9}
    irdata("train", "pretrain", _write_yaml(out + ".yaml", config))
    return os.path.join(out, "checkpoints", "last.pt")


def finetune(preset: dict, seed: int, init: str, steps: int, data: dict, out: str) -> str:
    config = {"seed": seed, "out": out, "init": init, "p_large": 0.5,
              "data": {"workers": preset["workers"], "shuffle": 64, "epoch_steps": 100},
              "tasks": {"denoise_25": {"kind": "noise", "sigma": SIGMA,
                                       "shards": data["noise"], "weight": 1},
                        "derain": {"kind": "paired", "shards": data["rain"], "weight": 1}},
              "schedule": _phase(preset, steps),
              "optim": {"name": "adamw", "lr": 4.0e-4, "weight_decay": 1.0e-4,
                        "lr_schedule": "cosine", "warmup_steps": 15},
              "log_every": 50, "checkpoint_every": 10**9}
    irdata("train", "finetune", _write_yaml(out + ".yaml", config))
    return os.path.join(out, "checkpoints", "last.pt")


def evaluate(ckpt: str, data: dict, device: str, out: str) -> dict:
    scores = {}
    for task, args in (("noise", ["--clean", data["noise_eval"], "--noise-sigma", str(SIGMA)]),
                       ("rain", ["--pairs", data["rain_eval"]])):
        report = f"{out}-{task}.json"
        irdata("eval", "--checkpoint", ckpt, "--variant", "L", "--device", device, *args,
               "--json", report)
        with open(report) as fh:
            mean = json.load(fh)["mean"]
        scores[task] = {"psnr": mean["psnr_out"], "ssim": mean["ssim_out"],
                        "psnr_in": mean["psnr_in"]}
    return scores


def run_seed(preset: dict, seed: int, shards: dict, data: dict, work: str) -> dict:
    """{arm: {task: {psnr, ssim}}} for one seed."""
    init = initial_checkpoint(preset, seed, work)
    p, f = preset["pretrain"], preset["finetune"]
    runs = os.path.join(work, "runs")
    os.makedirs(runs, exist_ok=True)
    results = {}
    for arm in ARMS:
        out = os.path.join(runs, f"{arm}-seed{seed}")
        if arm == "scratch":
            final = finetune(preset, seed, init, p + f, data, out)
        else:
            start = pretrain(preset, seed, shards[arm], out + "-pretrain")
            final = finetune(preset, seed, start, f, data, out)
        results[arm] = evaluate(final, data, preset["device"], out)
        print(f"seed {seed} {arm}: " + ", ".join(
            f"{t} {s['psnr']:.2f} dB / {s['ssim']:.4f}" for t, s in results[arm].items()),
            flush=True)
    return results


def _spread(values: list[float]) -> str:
    mean = statistics.fmean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.2f} +- {sd:.2f}"


def summarise(per_seed: list[dict]) -> list[str]:
    lines = []
    for task in ("noise", "rain"):
        for arm in ARMS:
            psnr = [r[arm][task]["psnr"] for r in per_seed]
            ssim = [r[arm][task]["ssim"] for r in per_seed]
            lines.append(f"{task} {arm}: PSNR {_spread(psnr)} dB, SSIM "
                         f"{statistics.fmean(ssim):.4f} +- "
                         f"{(statistics.stdev(ssim) if len(ssim) > 1 else 0):.4f}")
        for name, (better, worse) in (("(b)-(a) pre-training", ("curated", "scratch")),
                                      ("(b)-(c) curation", ("curated", "uncurated"))):
            gains = [r[better][task]["psnr"] - r[worse][task]["psnr"] for r in per_seed]
            lines.append(f"{task} {gain_line(name, gains)}")
    return lines


def gain_line(name: str, gains: list[float]) -> str:
    """'gain NAME: mean +- sd dB (per seed ...; sign stable|not stable)'."""
    stable = "stable" if len({g > 0 for g in gains}) == 1 else "not stable"
    return (f"gain {name}: {_spread(gains)} dB (per seed "
            f"{', '.join(f'{g:+.2f}' for g in gains)}; sign {stable})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-noise", required=True, help="a folder of clean images")
    parser.add_argument("--eval-pairs", required=True, help="a pairs folder (rainy/ + norain/)")
    parser.add_argument("--photos", help="build curated and uncurated shards from these")
    parser.add_argument("--shards", help="curated patch shards: a build output (run.json "
                        "beside patches/) or a folder of .tar")
    parser.add_argument("--uncurated", help="patch shards of the same photos, gates off "
                        "(default: rebuilt from S's run.json)")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu-tiny")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--work", default=None)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    if not args.photos and not args.shards:
        parser.error("give --photos DIR, or --shards S (a build output, or with --uncurated)")
    preset = PRESETS[args.preset]
    work = os.path.abspath(args.work or tempfile.mkdtemp(prefix="irdata-gain-"))
    os.makedirs(work, exist_ok=True)
    started = time.monotonic()
    kept = {}
    if args.photos:
        curated, uncurated, kept = build_shards(args.photos, work)
    else:
        curated = args.shards
        if os.path.isdir(os.path.join(curated, "patches")):  # a build output
            curated = os.path.join(curated, "patches")
        uncurated = args.uncurated or rebuild_uncurated(args.shards, work)
        kept = {"curated": _samples(curated), "uncurated": _samples(uncurated)}
    noise_train, noise_eval = split_clean(args.eval_noise, work)
    rain_train, rain_eval = split_pairs(args.eval_pairs, work)
    irdata("pairs", noise_train, "--out", os.path.join(work, "noise-shards"), "--task", "denoise")
    irdata("pairs", rain_train, "--out", os.path.join(work, "rain-shards"))
    data = {"noise": os.path.join(work, "noise-shards", "patches"), "noise_eval": noise_eval,
            "rain": os.path.join(work, "rain-shards", "paired"), "rain_eval": rain_eval}
    shards = {"curated": curated, "uncurated": uncurated}
    per_seed = [run_seed(preset, seed, shards, data, work) for seed in range(args.seeds)]
    seconds = time.monotonic() - started
    lines = summarise(per_seed)
    print("\n".join(lines))
    if not args.no_record:
        patches = (f"; {kept['curated']} curated and {kept['uncurated']} uncurated patches"
                   if kept else "")
        setup = (f"preset {args.preset} (P {preset['pretrain']} + F {preset['finetune']} steps, "
                 f"crop {preset['crop']}, batch {preset['batch']}), {args.seeds} seeds, "
                 f"DyNet-L eval, noise sigma {SIGMA} + rain{patches}, {seconds / 60:.1f} min, "
                 f"{machine()}")
        data_names = (f"{os.path.basename(os.path.abspath(args.photos or curated))}; eval "
                      f"{os.path.basename(os.path.abspath(args.eval_noise))} halves, "
                      f"{os.path.basename(os.path.abspath(args.eval_pairs))} halves")
        print(append_result("pretrain_gain", data_names, setup, "; ".join(lines)))


if __name__ == "__main__":
    main()
