"""Per-cell quality figures at native resolution, and the per-cell verdict.

Every grid cell is judged where it is used: on its own pixels from the one full
decode, never on the rest of the image (pure functions of the cell's RGB array).

| figure | what (module) | reason | fails when (`patch` setting) |
| --- | --- | --- | --- |
| clipped | share of pixels, a channel >= 250 (quality/exposure.py) | clipped | > max_clipped |
| crushed | share of pixels, all channels <= 8 (quality/exposure.py) | clipped | > max_crushed |
| noise | deviation of the smoothest blocks (quality/noise.py) | noisy | > max_noise |
| flat_fraction | flat 16x16 blocks, tone/noise-aware (patching/flat.py) | flat | > max_flat_frac. |
| blockiness | JPEG 8x8 grid strength (quality/periodic.py) | blocky | > max_blockiness |
| sharpness | finest-octave share of detail, dB (quality/spectrum.py) | blurry | < min_sharpness |
| periodicity | interpolation traces (quality/periodic.py) | (source only) | |

Checks run in that order; the first failure names the reason: a clipped or
noisy cell is named so even when it is also flat (a noise floor that high makes
every block read flat), and a flat cell (bokeh, a sky with JPEG banding) is flat
rather than blocky or blurry. A figure that is None (a featureless cell's sharpness, a
black cell's noise) never fails.
Calibration: irdata/quality/CALIBRATION.md and irdata/patching/FLAT_CALIBRATION.md.
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
