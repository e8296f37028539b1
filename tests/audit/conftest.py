"""One small real corpus for the auditor tests, built once per session: two sources with different licences, a planted near-duplicate,
a too-small image, flat sky cells, and paired shards (2 variants per patch).
It is a real build (the runner on a one-worker LocalCluster), so run.json is real.
Tests that damage it work on a copy (`corpus_copy`).

`gated_corpus` is a second, smaller build whose cells fail other per-cell gates:
one photo with strong grain in one quadrant (dropped as noisy under a strict
`patch.max_noise`) and a heavy blur in another (dropped as blurry)."""

from __future__ import annotations

import shutil

import cv2
import numpy as np
import pytest

from irdata.build.runner import run_build
from irdata.config import validate
from irdata.demo.synth import encode, near_duplicate, procedural_image
from irdata.stages import ORDER


def _write(folder, name: str, data: bytes) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data)


@pytest.fixture(scope="session")
def audit_corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("audit")
    first = procedural_image(1, 1100, 1100, sky_fraction=0.5)
    _write(root / "cc0", "a.jpg", encode(first, "jpg", 92))
    _write(root / "cc0", "a_copy.jpg", near_duplicate(first, scale=0.6))
    _write(root / "cc0", "b.png", encode(procedural_image(2, 1100, 600, sky_fraction=0.0), "png"))
    _write(root / "by", "c.jpg", encode(procedural_image(3, 1100, 1100, sky_fraction=0.3), "jpg"))
    _write(root / "by", "tiny.png", encode(procedural_image(4, 300, 200), "png"))
    config = validate({
        "sources": [{"name": "open", "dir": str(root / "cc0"), "license": "CC0-1.0"},
                    {"name": "attrib", "dir": str(root / "by"), "license": "CC-BY-4.0"}],
        "images_per_partition": 2, "seed": 3,
        "degrade": {"variants": 2, "kinds": ["gaussian_noise", "jpeg"]}}, "test", str(root))
    out = root / "out"
    results = run_build(config, str(out), list(ORDER), workers=1, quiet=True)
    return {"out": out, "config": config, "results": results}


@pytest.fixture
def corpus_copy(audit_corpus, tmp_path):
    """A private copy of the corpus output, free to damage."""
    target = tmp_path / "out"
    shutil.copytree(audit_corpus["out"], target)
    return target


NOISY_SIGMA, BLUR_SIGMA = 4.0, 1.5  # grain (grey levels) and blur (pixels) planted
GATED_PATCH = {"max_noise": 1.5}  # the clean cells measure ~0.3, the grainy one ~2.8


def gated_image(seed: int = 5, side: int = 1100) -> np.ndarray:
    """A textured photo, grain added to its top-left quadrant, its bottom-right blurred."""
    image = procedural_image(seed, side, side, sky_fraction=0.0).astype(np.float32)
    half = side // 2
    image[:half, :half] += np.random.default_rng(seed).normal(0, NOISY_SIGMA, (half, half, 3))
    image[half:, half:] = cv2.GaussianBlur(image[half:, half:], (0, 0), BLUR_SIGMA)
    return np.clip(image + 0.5, 0, 255).astype(np.uint8)


@pytest.fixture(scope="session")
def gated_corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("gated")
    _write(root / "photos", "grain_and_blur.png", encode(gated_image(), "png"))
    config = validate({
        "sources": [{"name": "photos", "dir": str(root / "photos"), "license": "CC0-1.0"}],
        "seed": 4, "patch": GATED_PATCH}, "test", str(root))
    out = root / "out"
    results = run_build(config, str(out), list(ORDER), workers=1, quiet=True)
    return {"out": out, "config": config, "results": results}
