"""Folders of existing restoration sets: degraded inputs beside their ground truth, or
clean images only.

Named pairs: an input folder names the task (rainy/ or rain/: derain, hazy/: dehaze,
noisy/: denoise, lq/, input/ or degraded/: restore or --task) beside a target folder (the
first found of norain/, clear/, clean/, gt/, target/, groundtruth/). Files match by name
without extension, else by their first number (rain-001 / norain-001, 0001_0.8_0.2 /
0001), so several inputs may share one target.

RESIDE OTS (dehaze): synthetic/ (hazy images, directly or in sub-folders part1/, ...)
beside original/; a hazy file's clean image is original/ + the text of its name before
the first '_' + an image extension, its own preferred (part1/0025_0.8_0.1.jpg ->
0025.jpg). Unmatched inputs of both layouts are listed, not guessed.

Clean images (BSD400, WED, Train/Denoise/): a folder without those layout folders whose
images, found recursively, are written as clean shards for `kind: noise` tasks.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

from irdata.errors import UsageError
from irdata.sources.folders import is_image_name, is_regular_file

INPUTS = {"rainy": "derain", "rain": "derain", "hazy": "dehaze", "noisy": "denoise",
          "lq": "restore", "input": "restore", "degraded": "restore"}
TARGETS = ("norain", "clear", "clean", "gt", "target", "groundtruth")
OTS_HAZY, OTS_CLEAN = "synthetic", "original"
LAYOUT_FOLDERS = (*INPUTS, *TARGETS, OTS_HAZY, OTS_CLEAN)
CLEAN_LAYOUT = "clean images"
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
    layout: str = ""  # e.g. "rainy/ + norain/"


@dataclass
class CleanSet:
    folder: str
    task: str
    images: list[str]  # paths relative to the folder, '/'-separated, sorted
    layout: str = CLEAN_LAYOUT


def _images(folder: str) -> list[str]:
    return sorted(n for n in os.listdir(folder)
                  if is_image_name(n) and os.path.isfile(os.path.join(folder, n)))


def _images_below(root: str, refuse: tuple[str, ...] = ()) -> list[str]:
    """Image files under `root`, recursively (links not followed), as sorted relative
    names; UsageError when a sub-folder is named in `refuse`."""
    found = []
    for folder, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        rel = os.path.relpath(folder, root)
        layout = next((name for name in dirnames if name in refuse), None)
        if layout:
            raise UsageError(f"{root}: {rel}/ holds the pairs layout folder {layout}/: run "
                             f"irdata pairs on {os.path.join(root, rel)} instead")
        found += [os.path.normpath(os.path.join(rel, n)).replace(os.sep, "/")
                  for n in filenames
                  if is_image_name(n) and is_regular_file(os.path.join(folder, n))]
    return sorted(found)


def _half_layout(folder: str, name: str) -> str:
    if name == OTS_CLEAN:
        return f"{folder}: original/ (clean images) has no synthetic/ (hazy images) beside it"
    if name == OTS_HAZY:
        return f"{folder}: synthetic/ (hazy images) has no original/ (clean images) beside it"
    if name in INPUTS:
        return f"{folder}: {name}/ has no target folder beside it ({'/, '.join(TARGETS)}/)"
    return f"{folder}: {name}/ has no input folder beside it ({'/, '.join(INPUTS)}/)"


def _layout(folder: str) -> tuple[str, str] | None:
    """(input folder, target folder) of the layout found; None when the folder holds no
    layout folder at all; UsageError for half a layout."""
    present = [d for d in LAYOUT_FOLDERS if os.path.isdir(os.path.join(folder, d))]
    lq = next((d for d in INPUTS if d in present), None)
    gt = next((d for d in TARGETS if d in present), None)
    if lq and gt:
        return lq, gt
    if OTS_HAZY in present and OTS_CLEAN in present:
        return OTS_HAZY, OTS_CLEAN
    if present:
        raise UsageError(_half_layout(folder, present[0]))
    return None


def _no_layout(folder: str) -> str:
    return (f"{folder}: no pairs layout found (expected an input folder "
            f"{'/, '.join(INPUTS)}/ beside a target folder {'/, '.join(TARGETS)}/, "
            f"or synthetic/ beside original/)")


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


def _ots_clean(hazy: str, by_stem: dict[str, list[str]]) -> str | None:
    """The clean name of one hazy name: the same extension first, else the only one."""
    stem, ext = os.path.splitext(os.path.basename(hazy))
    clean_id = stem.split("_")[0]
    candidates = by_stem.get(clean_id, [])
    chosen = [c for c in candidates if os.path.splitext(c)[1].lower() == ext.lower()]
    chosen = chosen or candidates
    return chosen[0] if len(chosen) == 1 else None


def _match_ots(hazy_names: list[str], clean_names: list[str]
               ) -> tuple[list[tuple[str, str]], list[str]]:
    by_stem: dict[str, list[str]] = {}
    for name in clean_names:
        by_stem.setdefault(os.path.splitext(name)[0], []).append(name)
    matched, unmatched = [], []
    for name in hazy_names:
        gt = _ots_clean(name, by_stem)
        (matched.append((name, gt)) if gt else unmatched.append(name))
    return matched, unmatched


def _pairs(folder: str, lq_dir: str, gt_dir: str, task: str | None) -> PairSet:
    lq_root, gt_root = os.path.join(folder, lq_dir), os.path.join(folder, gt_dir)
    if lq_dir == OTS_HAZY:
        lq_names, layout, found_task = _images_below(lq_root), "RESIDE OTS", "dehaze"
        matched, unmatched = _match_ots(lq_names, _images(gt_root))
    else:
        lq_names, layout, found_task = _images(lq_root), "named pairs", INPUTS[lq_dir]
        matched, unmatched = _match(lq_names, _images(gt_root))
    if not lq_names:
        raise UsageError(f"{folder}: {lq_dir}/ holds no images")
    if not matched:
        raise UsageError(f"{folder}: no input in {lq_dir}/ matches a file in {gt_dir}/")
    pairs = [Pair(f"{lq_dir}/{lq}", os.path.join(lq_root, lq), os.path.join(gt_root, gt))
             for lq, gt in matched]
    return PairSet(folder, task or found_task, pairs, [f"{lq_dir}/{n}" for n in unmatched],
                   f"{layout} ({lq_dir}/ + {gt_dir}/)")


def _check_folder(folder: str) -> None:
    if not os.path.isdir(folder):
        raise UsageError(f"--pairs: not a folder: {folder}")


def find_pairs(folder: str, task: str | None = None) -> PairSet:
    """Every (input, target) pair of a pairs folder; UsageError if there is none."""
    _check_folder(folder)
    layout = _layout(folder)
    if layout is None:
        raise UsageError(_no_layout(folder))
    return _pairs(folder, *layout, task)


def find_set(folder: str, task: str | None = None) -> PairSet | CleanSet:
    """The pairs of a pairs layout, else the clean images of a folder without one
    (task denoise unless given); UsageError for an empty folder or half a layout."""
    _check_folder(folder)
    layout = _layout(folder)
    if layout is not None:
        return _pairs(folder, *layout, task)
    if not os.listdir(folder):
        raise UsageError(f"{folder}: the folder is empty (expected a pairs layout or images)")
    images = _images_below(folder, LAYOUT_FOLDERS)
    if not images:
        raise UsageError(f"{_no_layout(folder)}, nor any image file for clean shards")
    return CleanSet(folder, task or "denoise", images)
