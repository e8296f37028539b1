"""The image files under a benchmark's folder arguments.

Benchmarks take any folder of photos: nested folders are walked, files are
picked by image extension (magic bytes decide later), and a file a benchmark
cannot decode is skipped with a note on stderr rather than ending the run.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from irdata.inspection import examine
from irdata.sources.folders import is_image_name


def image_files(folder: str) -> list[str]:
    """Image files anywhere under `folder`, as sorted relative POSIX paths; exits
    with a message when `folder` is not a folder or holds none."""
    if not os.path.isdir(folder):
        raise SystemExit(f"{os.path.basename(sys.argv[0])}: {folder} is not a folder")
    names = []
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        names += [os.path.relpath(os.path.join(root, f), folder).replace(os.sep, "/")
                  for f in files if is_image_name(f) and os.path.isfile(os.path.join(root, f))]
    if not names:
        raise SystemExit(f"{os.path.basename(sys.argv[0])}: no image files under {folder}")
    return sorted(names)


def image_paths(folders: list[str]) -> list[str]:
    """Paths of the image files under every folder, folder by folder."""
    return [os.path.join(folder, name) for folder in folders for name in image_files(folder)]


def decoded(path: str) -> tuple[bytes, np.ndarray] | None:
    """The file's bytes and its oriented RGB pixels, decoded once by inspection (any
    size, gates off); None, with a note, when inspection drops it."""
    with open(path, "rb") as fh:
        data = fh.read()
    found, pixels = examine(data, 10**9, 1)
    if found.status != "ok":
        skipped(path, ValueError(f"{found.reason}: {found.detail}"))
        return None
    return data, pixels


def skipped(path: str, error: Exception) -> None:
    """Say on stderr that `path` was left out, and why."""
    print(f"skipped {path}: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
