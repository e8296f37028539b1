"""One small real corpus for the auditor tests, built once per session: two sources with different licences, a planted near-duplicate,
a too-small image, flat sky cells, and paired shards (2 variants per patch).
It is a real build (the runner on a one-worker LocalCluster), so run.json is real.
Tests that damage it work on a copy (`corpus_copy`)."""

from __future__ import annotations

import shutil

import pytest

from irdata.config import validate
from irdata.runner import run_build
from irdata.stages import ORDER
from irdata.synth import encode, near_duplicate, procedural_image


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
