"""Folders of existing restoration sets: degraded inputs beside their ground truth.

An input folder names the task (rainy/ or rain/: derain, hazy/: dehaze, noisy/: denoise,
lq/, input/ or degraded/: restore or --task) beside a target folder (the first found of
norain/, clear/, clean/, gt/, target/, groundtruth/). Files match by name without
extension, else by their first number (rain-001 / norain-001, 0001_0.8_0.2 / 0001), so
several inputs may share one target; unmatched files are listed, not guessed.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from irdata.errors import UsageError
from irdata.sources.folders import is_image_name

INPUTS = {"rainy": "derain", "rain": "derain", "hazy": "dehaze", "noisy": "denoise",
          "lq": "restore", "input": "restore", "degraded": "restore"}
TARGETS = ("norain", "clear", "clean", "gt", "target", "groundtruth")
_NUMBER_RE = re.compile(r"(\d+)")


@dataclass(frozen=True)
class Pair:
    name: str  # the input's path relative to the pairs folder
    lq: str
    gt: str


@dataclass
class PairSet:
    folder: str
    task: str
    pairs: list[Pair]
    unmatched: list[str]


def _images(folder: str) -> list[str]:
    return sorted(n for n in os.listdir(folder)
                  if is_image_name(n) and os.path.isfile(os.path.join(folder, n)))


def _layout(folder: str) -> tuple[str, str, str]:
    lq = next((d for d in INPUTS if os.path.isdir(os.path.join(folder, d))), None)
    gt = next((d for d in TARGETS if os.path.isdir(os.path.join(folder, d))), None)
    if lq and gt:
        return lq, gt, INPUTS[lq]
    raise UsageError(f"{folder}: no pairs layout found (expected an input folder "
                     f"{'/, '.join(INPUTS)}/ beside a target folder {'/, '.join(TARGETS)}/)")


def _number(name: str) -> int | None:
    match = _NUMBER_RE.search(os.path.splitext(name)[0])
    return int(match.group(1)) if match else None


def _match(lq_names: list[str], gt_names: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    by_stem = {os.path.splitext(n)[0]: n for n in gt_names}
    by_number: dict[int, list[str]] = {}
    for name in gt_names:
        by_number.setdefault(_number(name), []).append(name)
    matched, unmatched = [], []
    for name in lq_names:
        gt = by_stem.get(os.path.splitext(name)[0])
        if gt is None:
            candidates = by_number.get(_number(name), []) if _number(name) is not None else []
            gt = candidates[0] if len(candidates) == 1 else None
        (matched.append((name, gt)) if gt else unmatched.append(name))
    return matched, unmatched


def find_pairs(folder: str, task: str | None = None) -> PairSet:
    """Every (input, target) pair of a pairs folder; UsageError if there is none."""
    if not os.path.isdir(folder):
        raise UsageError(f"--pairs: not a folder: {folder}")
    lq_dir, gt_dir, found_task = _layout(folder)
    matched, unmatched = _match(_images(os.path.join(folder, lq_dir)),
                                _images(os.path.join(folder, gt_dir)))
    if not matched:
        raise UsageError(f"{folder}: no input in {lq_dir}/ matches a file in {gt_dir}/")
    pairs = [Pair(f"{lq_dir}/{lq}", os.path.join(folder, lq_dir, lq),
                  os.path.join(folder, gt_dir, gt)) for lq, gt in matched]
    return PairSet(folder, task or found_task, pairs, [f"{lq_dir}/{n}" for n in unmatched])
