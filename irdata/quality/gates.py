"""All quality figures of one source image, and the verdict of the source gates.

Gates catch defects of the whole file, never tone or style (a dark forest is a scene
to learn). JPEG quality, graphics and exposure figures come from the file and its
working-resolution copy; sharpness, periodicity and noise from the per-cell figures
(`summarise`). `judge` returns the first failing gate of CHECKS as (reason, detail);
a None figure never fails. The gates and their settings: pipelines/README.md;
calibration: CALIBRATION.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from irdata.quality import exposure, graphics, working

WORKING_FIGURES = ("clipped", "crushed", "tonal_range", "flat_share", "palette_share")
CELL_SUMMARY = ("sharpness", "periodicity", "noise")
FIGURES = ("jpeg_quality", *CELL_SUMMARY, *WORKING_FIGURES)
TEXTURED = 0.5  # flat fraction at or below which a cell is one of the detailed regions


def _rounded(value: float | None, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)


def _median(values) -> float | None:
    found = [v for v in values if v is not None]
    return float(np.median(found)) if found else None


def summarise(cells) -> dict:
    """Source sharpness and periodicity (medians over textured cells, or all cells when
    none is) and noise (median over all cells) from the cells' CellFigures."""
    textured = [c for c in cells if c.flat_fraction <= TEXTURED] or list(cells)
    return {"sharpness": _rounded(_median(c.sharpness for c in textured), 3),
            "periodicity": _rounded(_median(c.periodicity for c in textured), 3),
            "noise": _rounded(_median(c.noise for c in cells), 3)}


def measure(work: np.ndarray, cells, jpeg_quality: int | None = None) -> dict:
    """Every source figure, from `work` (working-resolution HxWx3 uint8 RGB) and `cells`
    (the per-cell figures of the native-resolution grid)."""
    return {"jpeg_quality": jpeg_quality, **summarise(cells),
            "clipped": _rounded(exposure.clipped(work), 4),
            "crushed": _rounded(exposure.crushed(work), 4),
            "tonal_range": exposure.tonal_range(working.grey(work)),
            "flat_share": _rounded(graphics.flat_share(work), 4),
            "palette_share": _rounded(graphics.palette_share(work), 4)}


@dataclass(frozen=True)
class Threshold:
    """One figure against one `quality` setting: fails below it (`below`) or above it."""

    figure: str
    setting: str
    below: bool = False

    def __call__(self, figures: dict, settings: dict) -> str:
        """The failure's detail, "" when the figure passes or is None."""
        value, limit = figures.get(self.figure), settings[self.setting]
        if value is None or (value >= limit if self.below else value <= limit):
            return ""
        return f"{self.figure} {value:g} {'<' if self.below else '>'} {self.setting} {limit:g}"


def _both(first: str, second: str) -> str:
    return f"{first} and {second}" if first and second else ""


GRAPHICS = (Threshold("flat_share", "graphics_flat_share"),
            Threshold("palette_share", "graphics_palette_share"))
UPSCALED = (Threshold("periodicity", "upscale_periodicity"),
            Threshold("sharpness", "upscale_sharpness", below=True))


def _graphics(figures: dict, settings: dict) -> str:
    """Flat blocks and few colours, with sharp edges somewhere (fog and skies have none)."""
    if figures.get("sharpness") is None:  # featureless: no shapes or text to speak of
        return ""
    if figures["sharpness"] < settings["graphics_min_sharpness"]:
        return ""
    return _both(*(check(figures, settings) for check in GRAPHICS))


def _upscaled(figures: dict, settings: dict) -> str:
    return _both(*(check(figures, settings) for check in UPSCALED))


CHECKS = (
    ("low_jpeg_quality", Threshold("jpeg_quality", "min_jpeg_quality", below=True)),
    ("graphics", _graphics),
    ("upscaled", _upscaled),
    ("blurry", Threshold("sharpness", "min_sharpness", below=True)),
    ("noisy", Threshold("noise", "max_noise")),
    ("clipped", Threshold("clipped", "max_clipped")),
    ("crushed", Threshold("crushed", "max_crushed")),
)
# The threshold each figure is shown against in reports: its own gate's, and for the
# two-figure gates the figure that names them (graphics: both shares; upscaled:
# periodicity, as sharpness has its own gate).
_SHOWN = {"graphics": GRAPHICS, "upscaled": UPSCALED[:1]}
FIGURE_GATES = {threshold.figure: (threshold.setting, reason) for reason, check in CHECKS
                for threshold in _SHOWN.get(reason, (check,))}


def failures(figures: dict, settings: dict) -> list[tuple[str, str]]:
    """Every failing gate as (reason, detail), in check order (enabled is ignored)."""
    found = [(reason, check(figures, settings)) for reason, check in CHECKS]
    return [(reason, detail) for reason, detail in found if detail]


def is_upscaled(figures: dict, settings: dict) -> bool:
    """The upscale detector's verdict, whether or not gates are enabled."""
    return bool(_upscaled(figures, settings))


def judge(figures: dict, settings: dict | None) -> tuple[str, str]:
    """(reason, detail) of the first failing gate; ("", "") if none or disabled."""
    if not settings or not settings.get("enabled", True):
        return "", ""
    found = failures(figures, settings)
    return found[0] if found else ("", "")
