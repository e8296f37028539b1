"""Real patch and paired shards for the training tests, made by the build's stages."""

from __future__ import annotations

from inline_build import build_inline

from irdata.config import validate
from irdata.demo.synth import encode, procedural_image

SAMPLES = 8  # 4 photos of 1100x600 -> 2 textured 512 px patches each


def build_train_shards(root) -> dict:
    """Patch shards and paired shards (gaussian_noise / jpeg variants) under `root`."""
    (root / "photos").mkdir()
    for seed in range(4):
        (root / "photos" / f"p{seed}.png").write_bytes(
            encode(procedural_image(seed, 1100, 600, sky_fraction=0.0), "png"))
    config = validate({"sources": [{"name": "mine", "dir": str(root / "photos")}],
                       "images_per_partition": 2,
                       "degrade": {"variants": 2, "kinds": ["gaussian_noise", "jpeg"]}},
                      "test", str(root))
    out = str(root / "out")
    last = build_inline(config, out) - 1
    return {"patches": f"{out}/patches/{{00000..{last:05d}}}.tar",
            "paired": f"{out}/paired/{{00000..{last:05d}}}.tar", "out": out,
            "samples": SAMPLES}
