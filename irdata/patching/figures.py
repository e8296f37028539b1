"""Per-cell quality figures at native resolution, and the per-cell verdict.

Each grid cell is judged on its own pixels from the one full decode (pure functions
of its RGB array). CELL_GATES maps figure -> (`patch` setting, direction, reason) in
check order; the first failure names the reason, so a clipped or noisy cell is named
so even when also flat (heavy noise makes every block flat), and a flat cell (bokeh,
a banded sky) is flat rather than blocky or blurry. A None figure never fails;
periodicity is judged per source only. Calibration: irdata/quality/CALIBRATION.md,
irdata/patching/FLAT_CALIBRATION.md.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from irdata.patching.flat import flat_blocks, luminance

__all__ = ["CELL_GATES", "CELL_REASONS", "FIGURES", "CellFigures", "judge", "luminance",
           "measure"]
from irdata.quality import exposure, periodic, spectrum
from irdata.quality.noise import cell_noise

# figure -> (setting, "above" | "below", reason), in check order
CELL_GATES = {
    "clipped": ("max_clipped", "above", "clipped"),
    "crushed": ("max_crushed", "above", "clipped"),
    "noise": ("max_noise", "above", "noisy"),
    "flat_fraction": ("max_flat_fraction", "above", "flat"),
    "blockiness": ("max_blockiness", "above", "blocky"),
    "sharpness": ("min_sharpness", "below", "blurry"),
}
CELL_REASONS = tuple(dict.fromkeys(reason for _, _, reason in CELL_GATES.values()))
SHARE_STEP = 4  # clipped and crushed shares from every 4th row (128 of 512: plenty)
FIGURES = ("flat_fraction", "noise", "sharpness", "blockiness", "periodicity", "clipped",
           "crushed")


@dataclass(frozen=True)
class CellFigures:
    flat_fraction: float
    noise: float | None
    sharpness: float | None
    blockiness: float
    periodicity: float
    clipped: float
    crushed: float

    def to_dict(self) -> dict:
        return asdict(self)


def _rounded(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def measure(rgb: np.ndarray, block: int, threshold: float) -> CellFigures:
    """Every figure of one HxWx3 uint8 RGB cell (flat blocks of `block` px, `threshold`)."""
    lum = luminance(rgb)
    noise = cell_noise(lum)
    grey = lum.astype(np.float32)
    spectra = spectrum.axis_spectra(grey)
    profiles = periodic.profiles(lum)
    return CellFigures(
        flat_fraction=_rounded(np.mean(flat_blocks(lum, block, threshold, noise))),
        noise=_rounded(noise, 3),
        sharpness=_rounded(spectrum.sharpness(spectra, noise), 3),
        blockiness=_rounded(periodic.blockiness(profiles), 3),
        periodicity=_rounded(periodic.periodicity(profiles), 3),
        clipped=_rounded(exposure.clipped(rgb, step=SHARE_STEP)),
        crushed=_rounded(exposure.crushed(rgb, step=SHARE_STEP)))


def _fails(value: float | None, limit: float, direction: str) -> bool:
    if value is None:
        return False
    return value > limit if direction == "above" else value < limit


def judge(figures: CellFigures, settings: dict) -> str:
    """The first failing reason of a cell under the `patch` settings, or ''."""
    found = figures.to_dict()
    for figure, (setting, direction, reason) in CELL_GATES.items():
        if _fails(found[figure], settings[setting], direction):
            return reason
    return ""
