"""All quality figures of one image, and the verdict of the gates on them.

`measure` computes every figure from the working-resolution RGB image (see
working.py); `judge` compares figures with the pipeline's `quality` settings and
returns the first failing gate as (reason, detail), or ("", "") when the image
passes, gates are disabled, or no settings are given. A figure that is None
(not a JPEG, a featureless image, ...) never fails its gate; a featureless image
(sharpness None: a plain colour or smooth gradient) is not called graphics either,
as it has no shapes or text: the patch stage's flat filter deals with it.

Gates, in the order they are checked (the first failure names the reason):

| reason | fails when |
| --- | --- |
| low_jpeg_quality | jpeg_quality < min_jpeg_quality |
| blurry | sharpness < min_sharpness |
| too_dark | highlights < min_highlights |
| graphics | flat_share > graphics_flat_share and palette_share > graphics_palette_share |
| too_bright | brightness > max_brightness |
| clipped | clipped > max_clipped |
| noisy | noise > max_noise |

The order gives the most telling reason: graphics are never blurry or dark (a
blurred or darkened noise-free image grows flat blocks), but documents and logos
on white are bright and "clipped", so graphics is checked before those.
"""

from __future__ import annotations

import numpy as np

from irdata.quality import exposure, graphics
from irdata.quality.noise import noise_sigma
from irdata.quality.sharpness import sharpness
from irdata.quality.working import grey

FIGURES = ("jpeg_quality", "sharpness", "noise", "brightness", "highlights", "clipped",
           "flat_share", "palette_share")


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


def measure(rgb: np.ndarray, jpeg_quality: int | None = None) -> dict:
    """Every figure of a working-resolution HxWx3 uint8 RGB image."""
    lum = grey(rgb)
    return {
        "jpeg_quality": jpeg_quality,
        "sharpness": _rounded(sharpness(lum), 4),
        "noise": _rounded(noise_sigma(lum), 3),
        "brightness": _rounded(exposure.brightness(lum), 2),
        "highlights": _rounded(exposure.highlights(lum), 1),
        "clipped": _rounded(exposure.clipped(rgb), 4),
        "flat_share": _rounded(graphics.flat_share(rgb), 4),
        "palette_share": _rounded(graphics.palette_share(rgb), 4),
    }


def _below(figures: dict, name: str, settings: dict, key: str) -> str:
    value = figures.get(name)
    if value is None or value >= settings[key]:
        return ""
    return f"{name} {value:g} < {key} {settings[key]:g}"


def _above(figures: dict, name: str, settings: dict, key: str) -> str:
    value = figures.get(name)
    if value is None or value <= settings[key]:
        return ""
    return f"{name} {value:g} > {key} {settings[key]:g}"


def _graphics(figures: dict, settings: dict) -> str:
    if figures.get("sharpness") is None:  # featureless: no shapes or text to speak of
        return ""
    flat = _above(figures, "flat_share", settings, "graphics_flat_share")
    palette = _above(figures, "palette_share", settings, "graphics_palette_share")
    return f"{flat} and {palette}" if flat and palette else ""


CHECKS = (
    ("low_jpeg_quality", lambda f, s: _below(f, "jpeg_quality", s, "min_jpeg_quality")),
    ("blurry", lambda f, s: _below(f, "sharpness", s, "min_sharpness")),
    ("too_dark", lambda f, s: _below(f, "highlights", s, "min_highlights")),
    ("graphics", _graphics),
    ("too_bright", lambda f, s: _above(f, "brightness", s, "max_brightness")),
    ("clipped", lambda f, s: _above(f, "clipped", s, "max_clipped")),
    ("noisy", lambda f, s: _above(f, "noise", s, "max_noise")),
)
REASONS = tuple(reason for reason, _ in CHECKS)


def failures(figures: dict, settings: dict) -> list[tuple[str, str]]:
    """Every failing gate as (reason, detail), in check order (enabled is ignored)."""
    found = [(reason, check(figures, settings)) for reason, check in CHECKS]
    return [(reason, detail) for reason, detail in found if detail]


def judge(figures: dict, settings: dict | None) -> tuple[str, str]:
    """(reason, detail) of the first failing gate; ("", "") if none or disabled."""
    if not settings or not settings.get("enabled", True):
        return "", ""
    found = failures(figures, settings)
    return found[0] if found else ("", "")
