"""A short CPU fine-tune on a pairs folder, then `irdata eval` against the input.

    python benchmarks/finetune_eval.py PAIRS_DIR --init CKPT [--steps 400] [--crop 64]
                                       [--test-share 0.3] [--work DIR]

PAIRS_DIR is a pairs folder (e.g. ../shared/corpus/rain100h_sample: rainy/ +
norain/). The pairs are split by sorted name: the last `--test-share` are held
out. The rest go through `irdata pairs` into paired shards, `irdata train
finetune` runs a single paired task from `--init` (e.g. the checkpoint of
pipelines/pretrain-tiny.yaml), and `irdata eval` scores the held-out pairs and
all pairs with DyNet-S and DyNet-L. Prints the tables; appends one row to
BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import yaml

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from record import append_result, machine

from irdata.pairs.find import find_pairs


def split(pairs_dir: str, work: str, test_share: float) -> tuple[str, str, int, int]:
    """Copy the pairs into work/train and work/test (same layout); returns both dirs."""
    found = find_pairs(pairs_dir)
    n_test = max(1, round(len(found.pairs) * test_share))
    parts = {"train": found.pairs[:-n_test], "test": found.pairs[-n_test:]}
    for part, pairs in parts.items():
        for pair in pairs:
            for path, folder in ((pair.lq, os.path.basename(os.path.dirname(pair.lq))),
                                 (pair.gt, os.path.basename(os.path.dirname(pair.gt)))):
                target = os.path.join(work, part, folder)
                os.makedirs(target, exist_ok=True)
                shutil.copy(path, target)
    return (os.path.join(work, "train"), os.path.join(work, "test"), len(parts["train"]),
            n_test)


def irdata(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "irdata", *args], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pairs")
    parser.add_argument("--init", required=True)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--crop", type=int, default=64)
    parser.add_argument("--test-share", type=float, default=0.3)
    parser.add_argument("--work", default=None)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="irdata-ft-")
    train_dir, test_dir, n_train, n_test = split(args.pairs, work, args.test_share)
    irdata("pairs", train_dir, "--out", os.path.join(work, "shards"))
    config = {"seed": 0, "out": os.path.join(work, "run"), "init": args.init,
              "data": {"workers": 1, "shuffle": 16, "epoch_steps": 100},
              "tasks": {"derain": {"kind": "paired", "weight": 1,
                                   "shards": os.path.join(work, "shards", "paired")}},
              "schedule": [{"steps": args.steps, "crop": args.crop, "batch": 4}],
              "optim": {"name": "adamw", "lr": 4e-4, "lr_schedule": "cosine",
                        "warmup_steps": 15},
              "log_every": 50, "checkpoint_every": args.steps}
    with open(os.path.join(work, "finetune.yaml"), "w") as fh:
        yaml.safe_dump(config, fh)
    started = time.monotonic()
    irdata("train", "finetune", os.path.join(work, "finetune.yaml"))
    seconds = time.monotonic() - started
    checkpoint = os.path.join(work, "run", "checkpoints", "last.pt")
    results = []
    for name, folder in (("held-out", test_dir), ("all", args.pairs)):
        for variant in ("S", "L"):
            report = os.path.join(work, f"eval-{name}-{variant}.json")
            irdata("eval", "--checkpoint", checkpoint, "--variant", variant, "--pairs", folder,
                   "--json", report)
            mean = json.load(open(report))["mean"]
            results.append(f"{name} ({n_test if name == 'held-out' else n_train + n_test}) "
                           f"DyNet-{variant}: input {mean['psnr_in']:.2f} dB / "
                           f"{mean['ssim_in']:.4f} -> output {mean['psnr_out']:.2f} dB / "
                           f"{mean['ssim_out']:.4f}")
    setup = (f"fine-tune {args.steps} steps, crop {args.crop}, batch 4, {n_train} train pairs, "
             f"init {os.path.basename(os.path.dirname(os.path.dirname(args.init)))}, "
             f"{seconds:.0f} s, {machine()}")
    print("\n".join(results))
    if not args.no_record:
        print(append_result("finetune_eval", os.path.basename(os.path.abspath(args.pairs)),
                            setup, "; ".join(results)))


if __name__ == "__main__":
    main()
