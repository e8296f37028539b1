"""The centred patch grid and the flat-region detector (synthetic and labelled real patches)."""

import csv
import itertools
from pathlib import Path

import cv2
import numpy as np
import pytest

from irdata.config import PATCH
from irdata.patching.figures import CellFigures, judge
from irdata.patching.flat import (
    DEFAULT_BLOCK,
    DEFAULT_THRESHOLD,
    MAX_FLAT_FRACTION,
    block_energy_and_tone,
    flat_fraction,
    luminance,
)
from irdata.patching.grid import grid
from irdata.settings_schema import fill_section

LABELLED = Path(__file__).resolve().parent / "data" / "flat"
MEASURED_ACCURACY = 0.875  # the defaults on these 48 crops (42; the previous rule, chosen on them, 45)
CELLS = Path(__file__).resolve().parent / "data" / "cells"


def is_flat(fraction: float) -> bool:
    """The patch stage's own gate (figures.judge, default settings) on a cell whose
    only failing figure could be its flat fraction."""
    clean = CellFigures(flat_fraction=fraction, noise=None, sharpness=None, blockiness=1.0,
                        periodicity=0.0, clipped=0.0, crushed=0.0)
    return judge(clean, fill_section(PATCH, {}, "test", "patch.")) == "flat"


# ---------------------------------------------------------------- grid

@pytest.mark.parametrize("width, height, size, expected", [
    (1024, 512, 512, [(0, 0), (0, 512)]),
    (512, 512, 512, [(0, 0)]),
    (1536, 1024, 512, [(0, 0), (0, 512), (0, 1024), (512, 0), (512, 512), (512, 1024)]),
    (1100, 600, 512, [(44, 38), (44, 550)]),          # leftover 76 x 88, split evenly
    (1027, 512, 512, [(0, 1), (0, 513)]),              # odd leftover 3: 1 left, 2 right
    (1025, 512, 512, [(0, 0), (0, 512)]),              # leftover 1 goes to the right
    (100, 50, 32, [(9, 2), (9, 34), (9, 66)]),
    (511, 2000, 512, []),
    (2000, 511, 512, []),
    (0, 0, 512, []),
])
def test_grid_exact_corners(width, height, size, expected):
    assert grid(width, height, size) == expected


def test_grid_default_size_is_512():
    assert grid(1100, 600) == grid(1100, 600, 512)


SIZES = [(w, h) for w, h in itertools.product([300, 512, 513, 1023, 1024, 1100, 2049, 6000],
                                              [200, 512, 700, 1536, 4000])]


@pytest.mark.parametrize("width, height", SIZES)
def test_grid_cells_inside_disjoint_row_major_and_centred(width, height):
    size = 512
    cells = grid(width, height, size)
    assert len(cells) == (width // size) * (height // size)
    assert cells == sorted(cells)
    assert all(0 <= y and y + size <= height and 0 <= x and x + size <= width for y, x in cells)
    for (y1, x1), (y2, x2) in itertools.combinations(cells, 2):
        assert abs(y1 - y2) >= size or abs(x1 - x2) >= size
    if cells:
        left, top = cells[0][1], cells[0][0]
        right, bottom = width - cells[-1][1] - size, height - cells[-1][0] - size
        assert right - left in (0, 1) and bottom - top in (0, 1)


def test_grid_is_symmetric_under_flips_when_the_leftover_is_even():
    width, height, size = 1100, 1700, 512
    cells = set(grid(width, height, size))
    assert {(y, width - size - x) for y, x in cells} == cells
    assert {(height - size - y, x) for y, x in cells} == cells


def test_grid_rejects_a_non_positive_size():
    with pytest.raises(ValueError):
        grid(100, 100, 0)

# ---------------------------------------------------------------- detector, synthetic


def _rgb(gray: np.ndarray) -> np.ndarray:
    return np.repeat(np.clip(gray, 0, 255).astype(np.uint8)[:, :, None], 3, axis=2)


def _noise(shape=(512, 512), seed=0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(*shape, 3), dtype=np.uint8)


def test_luminance_uses_bt601_weights_rounded_to_uint8():
    rgb = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]]], dtype=np.uint8)
    lum = luminance(rgb)
    assert lum.dtype == np.uint8 and lum.shape == (1, 4)
    expected = [0.299 * 255, 0.587 * 255, 0.114 * 255, 0.299 * 10 + 0.587 * 20 + 0.114 * 30]
    np.testing.assert_allclose(lum[0], expected, atol=0.5 + 1e-6)


def test_constant_patch_is_all_flat():
    assert flat_fraction(np.full((512, 512, 3), 128, np.uint8)) == 1.0


def test_random_noise_has_no_flat_block():
    assert flat_fraction(_noise()) == 0.0


def test_half_sky_half_noise_is_half_flat_and_kept():
    patch = _noise()
    patch[:256] = (110, 160, 220)                       # plain sky over the top half
    fraction = flat_fraction(patch)
    assert fraction == 0.5 and not is_flat(fraction)


def test_half_split_off_the_block_grid_is_about_half():
    patch = _noise()
    patch[:264] = (110, 160, 220)                       # split inside a block row
    assert abs(flat_fraction(patch) - 0.5) <= 1 / 32    # at most one row of 32 blocks off


def test_gentle_sky_gradient_is_flat():
    ramp = np.linspace(120, 160, 512)[None, :].repeat(512, axis=0)  # 40 levels across 512 px
    assert flat_fraction(_rgb(ramp)) == 1.0
    full_ramp = np.linspace(0, 255, 512)[:, None].repeat(512, axis=1)  # 255 levels, vertical
    assert flat_fraction(_rgb(full_ramp)) == 1.0


@pytest.mark.parametrize("sigma", [1.0, 2.0, 4.0, 6.0])
def test_sensor_grain_on_a_plain_wall_is_flat(sigma):
    """The cell's own noise floor: grain is not texture (up to the floor's cap, where
    the noisy gate takes over; the previous fixed threshold of 4 called grain of
    sigma 4 texture)."""
    grain = 128 + np.random.default_rng(1).normal(0, sigma, (512, 512))
    assert flat_fraction(_rgb(grain)) == 1.0


def test_given_noise_floor_is_used_instead_of_the_estimate():
    grain = _rgb(128 + np.random.default_rng(1).normal(0, 6.0, (512, 512)))
    assert flat_fraction(grain, noise=0.0) < 0.5  # no floor: grain of 6 reads as texture
    assert flat_fraction(grain) == 1.0  # its own estimate (~6) puts the floor at the cap


def test_fine_texture_is_not_flat():
    stripes = 128 + 20 * np.sign(np.sin(np.arange(512) / 1.5))[None, :].repeat(512, axis=0)
    assert flat_fraction(_rgb(stripes)) == 0.0


def test_block_energy_matches_a_plain_numpy_reference():
    lum = (np.random.default_rng(2).random((300, 517)) * 255).astype(np.float32)
    for block in (4, 8, 16, 32):
        rows, cols, step = 300 // block, 517 // block, block // 2
        half = lum[:rows * block, :cols * block].reshape(rows * step, 2, cols * step, 2)
        half = half.mean(axis=(1, 3), dtype=np.float64).reshape(rows, step, cols, step)
        dx, dy = np.diff(half, axis=3), np.diff(half, axis=1)
        ref = np.sqrt(((dx ** 2).sum(axis=(1, 3)) + (dy ** 2).sum(axis=(1, 3)))
                      / (2 * step * (step - 1)))
        np.testing.assert_allclose(block_energy_and_tone(lum, block)[0], ref, rtol=1e-4, atol=1e-4)


def test_partial_blocks_are_ignored():
    patch = _noise((100, 70))
    patch[96:, :] = 0
    patch[:, 64:] = 0
    assert flat_fraction(patch) == 0.0                  # 6 x 4 whole blocks, all noise


@pytest.mark.parametrize("patch, block", [
    (np.zeros((64, 64), np.uint8), 16),                 # not RGB
    (np.zeros((64, 64, 3), np.uint8), 15),              # odd block
    (np.zeros((64, 64, 3), np.uint8), 2),               # too small to hold a difference
    (np.zeros((8, 64, 3), np.uint8), 16),               # no whole block
])
def test_bad_input_is_refused(patch, block):
    with pytest.raises(ValueError):
        flat_fraction(patch, block=block)


def test_drop_rule_is_strictly_more_than_half():
    assert PATCH["max_flat_fraction"].default == MAX_FLAT_FRACTION == 0.5
    assert not is_flat(0.5) and is_flat(0.5 + 1 / 1024)

# ---------------------------------------------------------------- detector, labelled real patches


def _labelled():
    with open(LABELLED / "labels.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def test_labelled_set_is_balanced_small_and_complete():
    rows = _labelled()
    labels = [row["label"] for row in rows]
    assert set(labels) == {"flat", "textured"}
    assert 40 <= len(rows) <= 60 and abs(labels.count("flat") - labels.count("textured")) <= 4
    pngs = sorted(p.name for p in LABELLED.glob("*.png"))
    assert pngs == sorted(row["file"] for row in rows)
    assert sum(p.stat().st_size for p in LABELLED.iterdir()) < 4_000_000


def test_detector_accuracy_on_the_labelled_real_patches():
    rows = _labelled()
    correct = 0
    for row in rows:
        bgr = cv2.imread(str(LABELLED / row["file"]), cv2.IMREAD_COLOR)
        assert bgr.shape == (256, 256, 3)
        fraction = flat_fraction(np.ascontiguousarray(bgr[:, :, ::-1]),
                                 DEFAULT_BLOCK, DEFAULT_THRESHOLD)
        correct += is_flat(fraction) == (row["label"] == "flat")
    accuracy = correct / len(rows)
    assert accuracy >= MEASURED_ACCURACY - 0.03, f"accuracy {accuracy:.3f}"



def test_labelled_cells_cover_the_hard_cases():
    """The calibration labels (benchmarks/flat_calibration.py): >= 300 decided cells
    from both halves, with the cases the tone- and noise-aware rule is for."""
    with open(CELLS / "labels.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    decided = [r for r in rows if r["label"] in ("flat", "textured")]
    assert len(decided) >= 300
    assert len({(r["image"], r["x"], r["y"]) for r in rows}) == len(rows)
    categories = {r["category"] for r in decided}
    assert {"dark_foliage", "fog", "sand", "water", "hair_fur", "stars", "grain", "noise",
            "bokeh", "sky"} <= categories
    assert {r["pick"] for r in rows} == {"random", "targeted"}
