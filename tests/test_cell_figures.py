"""Per-cell quality figures at native resolution (irdata/patching/figures.py): each
figure separates a clean cell from the same cell degraded, depends on the cell's
own pixels only, and the verdict names the first failing gate."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from irdata import config as irconfig
from irdata.demo.synth import procedural_image
from irdata.patching import figures
from irdata.patching.figures import CELL_GATES, CellFigures, judge, measure
from irdata.quality import exposure, spectrum
from irdata.quality.noise import cell_noise
from irdata.quality.periodic import periodicity, profiles

PATCH = {name: spec.default for name, spec in irconfig.PATCH.items()}
SEEDS = range(4)


def cell(seed: int = 0, size: int = 512) -> np.ndarray:
    """A textured cell of a generated photo (no sky)."""
    return procedural_image(seed, size + 64, size + 64, sky_fraction=0.0)[32:32 + size,
                                                                          32:32 + size]


def of(rgb: np.ndarray) -> CellFigures:
    return measure(np.ascontiguousarray(rgb), PATCH["flat_block"], PATCH["flat_threshold"])


def jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"))


def noised(rgb: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, sigma, rgb.shape)
    return np.clip(rgb + noise + 0.5, 0, 255).astype(np.uint8)


def down_up(rgb: np.ndarray, factor: int, resample=Image.BICUBIC) -> np.ndarray:
    image = Image.fromarray(rgb)
    small = image.resize((rgb.shape[1] // factor, rgb.shape[0] // factor), Image.BOX)
    return np.asarray(small.resize(image.size, resample))


# -- locality ------------------------------------------------------------------------

def test_figures_depend_on_the_cell_alone():
    """The same 512 pixels inside two different photos give the same figures."""
    inner = cell(1)
    one = procedural_image(2, 1200, 900)
    two = procedural_image(3, 1500, 1100, sky_fraction=0.5)
    one[100:612, 300:812] = inner
    two[400:912, 17:529] = inner
    assert of(one[100:612, 300:812]) == of(two[400:912, 17:529]) == of(inner)


# -- noise -------------------------------------------------------------------------------

@pytest.mark.parametrize("sigma", [2, 5, 10])
def test_cell_noise_tracks_the_added_deviation(sigma):
    flat = np.full((512, 512), 120, np.uint8)
    noisy = np.clip(flat + np.random.default_rng(sigma).normal(0, sigma, flat.shape) + 0.5,
                    0, 255).astype(np.uint8)
    assert cell_noise(noisy) == pytest.approx(sigma, rel=0.15)


def test_cell_noise_is_not_measured_on_a_black_or_blown_cell():
    assert cell_noise(np.zeros((512, 512), np.uint8)) is None
    assert cell_noise(np.full((512, 512), 255, np.uint8)) is None


@pytest.mark.parametrize("seed", SEEDS)
def test_noisy_cells_are_dropped_and_clean_ones_kept(seed):
    clean = cell(seed)
    assert judge(of(clean), PATCH) == ""
    assert of(clean).noise < PATCH["max_noise"] / 2
    found = of(noised(clean, 15, seed))  # per channel: ~10 grey levels of luminance
    assert found.noise > PATCH["max_noise"]
    assert judge(found, PATCH) == "noisy"


# -- sharpness and resampling ------------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_sharpness_falls_with_blur_and_upscaling(seed):
    clean = of(cell(seed))
    blurred = of(cv2.GaussianBlur(cell(seed), (0, 0), 2.0))
    upscaled = of(down_up(cell(seed), 4))
    assert clean.sharpness > PATCH["min_sharpness"] + 5
    assert blurred.sharpness < PATCH["min_sharpness"]
    assert upscaled.sharpness < PATCH["min_sharpness"]
    assert judge(blurred, PATCH) == "blurry"


def test_motion_blur_is_caught_on_its_axis():
    kernel = np.zeros((15, 15), np.float32)
    kernel[7] = 1 / 15  # horizontal motion of 15 pixels
    found = of(cv2.filter2D(cell(2), -1, kernel))
    assert found.sharpness < of(cell(2)).sharpness - 5
    spectra = spectrum.axis_spectra(cv2.cvtColor(cv2.filter2D(cell(2), -1, kernel),
                                                 cv2.COLOR_RGB2GRAY).astype(np.float32))
    along_x, along_y = (spectrum.sharpness((s, s)) for s in spectra)
    assert along_x < along_y - 2  # x lost the most (averaging columns also thins y's)


def test_a_featureless_cell_has_no_sharpness_and_is_not_blurry():
    found = of(np.full((512, 512, 3), 90, np.uint8))
    assert found.sharpness is None
    assert judge(found, dict(PATCH, max_flat_fraction=1.0)) == ""


@pytest.mark.parametrize("factor, resample", [(2, Image.BICUBIC), (2, Image.BILINEAR),
                                              (2, Image.LANCZOS), (3, Image.BICUBIC)])
def test_interpolation_leaves_periodicity(factor, resample):
    native = cell(5)
    grey = cv2.cvtColor(native, cv2.COLOR_RGB2GRAY)
    up = cv2.cvtColor(down_up(native, factor, resample), cv2.COLOR_RGB2GRAY)
    assert periodicity(profiles(grey)) < 2.0
    assert periodicity(profiles(up)) > 3.0


# -- blockiness --------------------------------------------------------------------------

@pytest.mark.parametrize("offset", [0, 3, 5])
def test_blockiness_finds_the_jpeg_grid_at_any_offset(offset):
    big = procedural_image(6, 640, 640, sky_fraction=0.0)
    heavy = jpeg(big, 15)[offset:offset + 512, offset:offset + 512]
    light = big[offset:offset + 512, offset:offset + 512]
    assert of(light).blockiness < 1.1
    assert of(heavy).blockiness > PATCH["max_blockiness"]
    assert of(light).blockiness < of(jpeg(big, 50)[offset:offset + 512,
                                                    offset:offset + 512]).blockiness
    assert judge(of(heavy), dict(PATCH, max_noise=99, min_sharpness=-99)) == "blocky"


# -- exposure ----------------------------------------------------------------------------

def test_clipped_and_crushed_shares_are_exact():
    rgb = (cell(7) * 0.7 + 30).astype(np.uint8)  # 30..208: nothing clipped or crushed
    rgb[:, :205] = (255, 252, 10)   # 40% with a channel >= 250
    rgb[:, 205:256] = (3, 8, 0)     # 10% with every channel <= 8
    assert exposure.clipped(rgb) == pytest.approx(205 / 512)
    assert exposure.crushed(rgb) == pytest.approx(51 / 512)
    assert of(rgb).clipped == pytest.approx(205 / 512, abs=1e-3)  # every other row
    blown = (cell(7) * 0.7 + 30).astype(np.uint8)
    blown[:, :300] = 255
    assert judge(of(blown), dict(PATCH, max_flat_fraction=1.0)) == "clipped"


# -- flatness fair to every tone -------------------------------------------------------

def _texture(level: float, amplitude: float, seed: int = 0) -> np.ndarray:
    """Grey structure (blurred noise, ~6 px features) at `level` +- `amplitude`."""
    rng = np.random.default_rng(seed)
    field = cv2.GaussianBlur(rng.normal(0, 1, (512, 512)).astype(np.float32), (0, 0), 2.0)
    field *= amplitude / field.std()
    grey = np.clip(level + field + 0.5, 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def test_dark_low_contrast_texture_counts_as_texture():
    """Dark foliage: the same faint structure (+-5 levels) is texture at level 30 and
    flat at mid-grey, where the eye needs more contrast (the old fixed threshold
    called both flat); stronger structure is texture at any tone."""
    assert of(_texture(30, 5)).flat_fraction < 0.5
    assert of(_texture(128, 5)).flat_fraction > 0.9
    assert of(_texture(128, 8)).flat_fraction < 0.5


def test_grain_and_noise_on_a_plain_surface_stay_flat():
    for level, sigma in ((128, 3), (30, 2), (200, 4)):
        plain = noised(np.full((512, 512, 3), level, np.uint8), sigma, level)
        assert of(plain).flat_fraction > 0.9, (level, sigma)


def test_a_star_field_is_flat():
    rng = np.random.default_rng(4)
    sky = noised(np.full((512, 512, 3), 12, np.uint8), 2, 1)
    for y, x in rng.integers(0, 510, (60, 2)):
        sky[y:y + 2, x:x + 2] = 230
    assert of(sky).flat_fraction > 0.5


def test_smooth_ramps_and_bokeh_are_flat():
    ramp = np.repeat(np.linspace(60, 200, 512, dtype=np.float32)[None, :], 512, axis=0)
    bokeh = cv2.GaussianBlur(cell(8), (0, 0), 12)
    assert of(np.repeat(ramp.astype(np.uint8)[..., None], 3, axis=2)).flat_fraction == 1.0
    assert of(bokeh).flat_fraction > 0.9


# -- the verdict ---------------------------------------------------------------------------

def test_judge_checks_in_order_and_names_the_first_failure():
    base = CellFigures(flat_fraction=0.2, noise=1.0, sharpness=-10.0, blockiness=1.0,
                       periodicity=1.0, clipped=0.0, crushed=0.0)
    assert judge(base, PATCH) == ""
    noisy_and_blurry = CellFigures(**dict(base.to_dict(), noise=99.0, sharpness=-99.0))
    assert judge(noisy_and_blurry, PATCH) == "noisy"
    flat_and_blurry = CellFigures(**dict(base.to_dict(), flat_fraction=0.9, sharpness=-99.0))
    assert judge(flat_and_blurry, PATCH) == "flat"
    assert judge(CellFigures(**dict(flat_and_blurry.to_dict(), noise=99.0)), PATCH) == "noisy"
    unmeasured = CellFigures(**dict(base.to_dict(), noise=None, sharpness=None))
    assert judge(unmeasured, PATCH) == ""
    assert list(CELL_GATES) == ["clipped", "crushed", "noise", "flat_fraction", "blockiness",
                                "sharpness"]
    assert set(figures.CELL_REASONS) == {"flat", "clipped", "blocky", "noisy", "blurry"}
