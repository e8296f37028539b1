"""Source quality gates: each figure separates clean from degraded images made here
(procedural photos, synthetic documents and graphics), the verdicts name their
figure and threshold, disabled gates drop nothing, and the fetch stage records
every figure in raw/*.parquet and the per-image JSON."""

from __future__ import annotations

import io
import json
import tarfile

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from irdata import config as irconfig
from irdata.demo.synth import encode, near_duplicate, procedural_image
from irdata.inspection import DEFAULT_PATCH, inspect_bytes, measure_cells
from irdata.quality import gates, working
from irdata.quality.noise import cell_noise
from irdata.sources.plan import make_plan
from irdata.stages import complete, fetch
from irdata.storage import Output

DEFAULTS = {name: spec.default for name, spec in irconfig.QUALITY.items()}
SEEDS = range(6)


def figures(pixels: np.ndarray) -> dict:
    cells = [found for _, _, found in measure_cells(pixels, DEFAULT_PATCH)]
    return gates.measure(working.to_working(pixels), cells)


def verdict(pixels: np.ndarray) -> str:
    return gates.judge(figures(pixels), DEFAULTS)[0]


def noised(pixels: np.ndarray, sigma: float, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0, sigma, pixels.shape)
    return np.clip(pixels + noise + 0.5, 0, 255).astype(np.uint8)


def exposed(pixels: np.ndarray, stops: float) -> np.ndarray:
    """Exposure change in linear light (sRGB curve), clipped."""
    v = np.arange(256) / 255.0
    linear = np.clip(np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)
                     * 2.0 ** stops, 0, 1)
    out = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)
    return np.clip(out * 255 + 0.5, 0, 255).astype(np.uint8)[pixels]


def text_page(seed: int, height: int = 1100, width: int = 850) -> np.ndarray:
    rng = np.random.default_rng(seed)
    page = np.full((height, width, 3), 248, np.uint8)
    for y in range(80, height - 60, 34):
        words = " ".join(f"word{n}" for n in rng.integers(0, 99, 8))
        cv2.putText(page, words, (60, y), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (20, 20, 30), 2,
                    cv2.LINE_AA)
    return page


def flat_illustration(seed: int, height: int = 800, width: int = 1000) -> np.ndarray:
    rng = np.random.default_rng(seed)
    art = np.full((height, width, 3), (40, 90, 200), np.uint8)
    palette = [tuple(int(c) for c in rng.integers(0, 256, 3)) for _ in range(4)]
    for i in range(15):
        centre = (int(rng.integers(width)), int(rng.integers(height)))
        cv2.circle(art, centre, int(rng.integers(30, 200)), palette[i % 4], -1, cv2.LINE_AA)
    return art


def logo_on_white(height: int = 700, width: int = 900) -> np.ndarray:
    logo = np.full((height, width, 3), 255, np.uint8)
    cv2.circle(logo, (width // 2, height // 2 - 60), 150, (200, 30, 40), -1, cv2.LINE_AA)
    cv2.putText(logo, "ACME", (width // 2 - 170, height - 120), cv2.FONT_HERSHEY_DUPLEX, 3.5,
                (200, 30, 40), 8, cv2.LINE_AA)
    return logo


def gradient(height: int = 700, width: int = 1100) -> np.ndarray:
    ramp = np.linspace(90, 130, width, dtype=np.uint8)[None, :, None]
    return np.zeros((height, width, 3), np.uint8) + ramp


# -- working resolution ------------------------------------------------------------

def test_working_resolution_is_fixed_and_never_enlarges():
    assert working.working_size(4000, 3000) == (960, 720)
    assert working.working_size(3000, 4000) == (720, 960)
    assert working.working_size(800, 600) == (800, 600)
    big = np.zeros((1500, 2000, 3), np.uint8)
    assert working.to_working(big).shape == (720, 960, 3)
    small = np.zeros((576, 768, 3), np.uint8)
    assert working.to_working(small) is small


def test_successive_halvings_match_the_box_average_within_one_level():
    rng = np.random.default_rng(5)
    pixels = rng.integers(0, 256, (4003, 6001, 3), dtype=np.uint8)
    quarter = working.halve(working.halve(pixels))
    assert quarter.shape == (1000, 1500, 3)  # odd rows / columns dropped, as h // 4
    box = pixels[:4000, :6000].reshape(1000, 4, 1500, 4, 3).mean(axis=(1, 3))
    error = quarter - box
    assert np.abs(error).max() <= 1.0
    assert 0.0 < error.mean() < 0.3  # OpenCV rounds half up at each halving
    assert working.to_working(pixels).shape == (640, 960, 3)


def test_jpeg_draft_reaches_at_least_the_working_resolution():
    data = encode(procedural_image(1, 3200, 2400), "jpg", 92)
    img = Image.open(io.BytesIO(data))
    img.draft("RGB", working.draft_request(*img.size))
    assert img.size == (1600, 1200)  # 1/2: 1/4 would be 800 < 960
    assert working.draft_request(4000, 3000) == (960, 720)


# -- blur, upscaling, noise: at native resolution -------------------------------------

def down_up(pixels: np.ndarray, factor: int, resample=Image.BICUBIC) -> np.ndarray:
    image = Image.fromarray(pixels)
    small = image.resize((image.width // factor, image.height // factor), Image.BOX)
    return np.asarray(small.resize(image.size, resample))


@pytest.mark.parametrize("seed", SEEDS)
def test_blurred_sources_are_dropped_as_blurry(seed):
    pixels = procedural_image(seed, 1400, 900, sky_fraction=0.0)
    assert verdict(pixels) == ""
    assert verdict(cv2.GaussianBlur(pixels, (0, 0), 2.0)) == "blurry"
    assert figures(pixels)["sharpness"] > DEFAULTS["min_sharpness"] + 5


def test_heavier_blur_leaves_no_textured_cell():
    """Blurred further, every cell is flat: no patch is kept even where the few
    edges left read sharp enough for the source gate."""
    blurred = cv2.GaussianBlur(procedural_image(0, 1400, 900, sky_fraction=0.0), (0, 0), 5.0)
    cells = measure_cells(blurred, DEFAULT_PATCH)
    assert all(f.flat_fraction > DEFAULT_PATCH["max_flat_fraction"] for _, _, f in cells)


@pytest.mark.parametrize("factor, resample", [(2, Image.BICUBIC), (2, Image.LANCZOS),
                                              (3, Image.BICUBIC), (4, Image.BICUBIC)])
def test_upscaled_sources_are_dropped(factor, resample):
    pixels = procedural_image(3, 1600, 1200, sky_fraction=0.0)
    found = figures(down_up(pixels, factor, resample))
    assert gates.judge(found, DEFAULTS)[0] in ("upscaled", "blurry")
    assert gates.is_upscaled(found, DEFAULTS) or found["sharpness"] < DEFAULTS["min_sharpness"]
    assert not gates.is_upscaled(figures(pixels), DEFAULTS)


def test_blur_and_noise_are_judged_at_native_resolution():
    """A 6000 px source with noise added at full size: invisible at the old 960 px
    working resolution, plain in its 512 cells."""
    pixels = procedural_image(4, 6000, 4000, sky_fraction=0.0)
    assert verdict(pixels) == ""
    assert verdict(noised(pixels, 10)) == "noisy"


@pytest.mark.parametrize("seed", SEEDS)
def test_noise_separates_clean_from_noisy(seed):
    pixels = procedural_image(seed, 900, 700)
    assert figures(pixels)["noise"] < DEFAULTS["max_noise"] / 2
    assert figures(noised(pixels, 10, seed))["noise"] > DEFAULTS["max_noise"]
    assert verdict(noised(pixels, 12, seed)) == "noisy"


def test_noise_estimate_tracks_the_added_deviation():
    flat = np.full((512, 512), 120, np.uint8)
    for sigma in (2, 5, 10):
        noisy = np.clip(flat + np.random.default_rng(sigma).normal(0, sigma, flat.shape) + 0.5,
                        0, 255).astype(np.uint8)
        assert cell_noise(noisy) == pytest.approx(sigma, rel=0.15)


# -- exposure: defects, not tone -----------------------------------------------------------

@pytest.mark.parametrize("seed", SEEDS)
def test_dark_and_bright_scenes_are_kept(seed):
    """Tone is style: two stops under or over is a darker or brighter scene, kept."""
    pixels = procedural_image(seed, 900, 700)
    for stops in (-2, 1):
        assert verdict(exposed(pixels, stops)) == "", stops


def test_blown_and_crushed_sources_are_dropped():
    pixels = procedural_image(2, 900, 700)
    blown = pixels.copy()
    blown[:, : 900 * 7 // 10] = 255  # 70% blown out
    found = figures(blown)
    assert found["clipped"] == pytest.approx(0.7, abs=0.01)
    assert "clipped" in [reason for reason, _ in gates.failures(found, DEFAULTS)]
    black = pixels.copy()
    black[:, : 900 * 7 // 10] = 2
    found = figures(black)
    assert found["crushed"] == pytest.approx(0.7, abs=0.01)
    assert "crushed" in [reason for reason, _ in gates.failures(found, DEFAULTS)]


def test_removed_tone_settings_get_a_clear_error():
    raw = {"sources": [{"name": "s", "dir": "."}]}
    for key in ("min_highlights", "max_brightness"):
        with pytest.raises(irconfig.ConfigError, match=f"quality.{key}' was removed"):
            irconfig.validate(dict(raw, quality={key: 1}), "t")


# -- graphics ----------------------------------------------------------------------

@pytest.mark.parametrize("make", [lambda: text_page(1), lambda: text_page(2),
                                  lambda: flat_illustration(3), lambda: flat_illustration(4),
                                  logo_on_white], ids=["text1", "text2", "art3", "art4", "logo"])
@pytest.mark.parametrize("fmt", ["png", "jpg"])
def test_graphics_and_documents_are_dropped(make, fmt):
    data = encode(make(), fmt, 90)
    found = inspect_bytes(data, 10**9, 1, DEFAULTS)
    assert (found.status, found.reason) == ("dropped", "graphics")
    assert "flat_share" in found.detail and "palette_share" in found.detail


@pytest.mark.parametrize("seed", SEEDS)
def test_photos_are_not_graphics(seed):
    found = figures(procedural_image(seed, 1100, 700))
    assert not (found["flat_share"] > DEFAULTS["graphics_flat_share"]
                and found["palette_share"] > DEFAULTS["graphics_palette_share"])


# -- JPEG quality ------------------------------------------------------------------

def test_low_jpeg_quality_is_dropped_with_its_figure():
    pixels = procedural_image(5, 800, 600)
    found = inspect_bytes(encode(pixels, "jpg", 35), 10**9, 512, DEFAULTS)
    assert (found.status, found.reason) == ("dropped", "low_jpeg_quality")
    assert found.detail == f"jpeg_quality {found.jpeg_quality} < min_jpeg_quality 60"
    assert abs(found.jpeg_quality - 35) <= 5
    assert inspect_bytes(encode(pixels, "jpg", 75), 10**9, 512, DEFAULTS).status == "ok"


# -- verdicts ----------------------------------------------------------------------

def test_judge_reports_the_first_failing_gate_with_figure_and_threshold():
    found = {"jpeg_quality": 90, "sharpness": -40.0, "periodicity": 1.0, "noise": 50.0,
             "clipped": 0.0, "crushed": 0.0, "flat_share": 0.0, "palette_share": 0.1}
    limit = DEFAULTS["min_sharpness"]
    assert gates.judge(found, DEFAULTS) == ("blurry", f"sharpness -40 < min_sharpness {limit:g}")
    assert [r for r, _ in gates.failures(found, DEFAULTS)] == ["blurry", "noisy"]
    assert gates.judge(dict(found, jpeg_quality=20), DEFAULTS)[0] == "low_jpeg_quality"


def test_missing_figures_never_fail():
    assert gates.judge(dict.fromkeys(gates.FIGURES), DEFAULTS) == ("", "")


def test_disabled_gates_drop_nothing_but_figures_are_recorded():
    off = dict(DEFAULTS, enabled=False)
    for pixels in (cv2.GaussianBlur(procedural_image(1, 900, 700), (0, 0), 4), text_page(1),
                   exposed(procedural_image(2, 900, 700), -4)):
        for settings in (off, None):
            found = inspect_bytes(encode(pixels, "jpg", 30), 10**9, 512, settings)
            assert (found.status, found.reason) == ("ok", "")
            assert found.jpeg_quality is not None and found.sharpness is not None
            assert found.crushed is not None and found.palette_share is not None


def test_config_quality_section():
    raw = {"sources": [{"name": "s", "dir": "."}]}
    assert irconfig.validate(raw, "t")["quality"] == DEFAULTS
    off = irconfig.validate(dict(raw, quality={"enabled": False}), "t")["quality"]
    assert off["enabled"] is False and off["min_sharpness"] == DEFAULTS["min_sharpness"]
    with pytest.raises(irconfig.ConfigError, match="quality.min_sharpnes"):
        irconfig.validate(dict(raw, quality={"min_sharpnes": 1}), "t")


# -- the suite's own generated images pass -----------------------------------------

@pytest.mark.parametrize("size, fmt, quality, sky", [
    ((768, 576), "jpg", 92, None), ((640, 520), "jpg", 90, None), ((1100, 700), "png", 0, None),
    ((1300, 800), "png", 0, 0.0), ((1100, 600), "png", 0, 0.0), ((600, 1100), "jpg", 95, 0.0),
    ((1536, 1024), "jpg", 92, None)])
def test_generated_test_images_pass_the_default_gates(size, fmt, quality, sky):
    for seed in range(8):
        data = encode(procedural_image(seed, *size, sky_fraction=sky), fmt, quality)
        found = inspect_bytes(data, 10**9, 512, DEFAULTS)
        assert (found.status, found.detail) == ("ok", ""), seed
    copy = near_duplicate(procedural_image(0, 1100, 700), scale=0.8)  # q70
    assert inspect_bytes(copy, 10**9, 512, DEFAULTS).status == "ok"


# -- the fetch stage records the figures ---------------------------------------------

def _fetch(tmp_path, quality: dict | None) -> list[dict]:
    photos = tmp_path / "photos"
    photos.mkdir(exist_ok=True)
    (photos / "a_clean.jpg").write_bytes(encode(procedural_image(1, 1000, 700), "jpg", 90))
    (photos / "b_blurry.jpg").write_bytes(
        encode(cv2.GaussianBlur(procedural_image(2, 1000, 700), (0, 0), 2), "jpg", 90))
    (photos / "c_document.png").write_bytes(encode(text_page(3), "png"))
    blown = procedural_image(4, 1000, 700)
    # blown highlights as a JPEG leaves them: 250-255, not one exact colour (an exactly
    # flat white field with sharp edges reads as graphics, which is checked first)
    blown[:, :700] = np.random.default_rng(4).integers(250, 256, (700, 700, 1))
    (photos / "d_blown.jpg").write_bytes(encode(blown, "jpg", 90))
    raw = {"sources": [{"name": "mine", "dir": str(photos)}]}
    if quality is not None:
        raw["quality"] = quality
    config = irconfig.validate(raw, "test", str(tmp_path))
    out = str(tmp_path / "out")
    make_plan(config, Output(out))
    complete("fetch", config, out, 0)
    return out


def test_fetch_records_figures_and_drops_by_gate(tmp_path):
    out = _fetch(tmp_path, None)
    table = pq.read_table(f"{out}/raw/00000.parquet")
    for name in fetch.QUALITY_FIGURES:
        assert table.schema.field(name).type == pa.float32()
    rows = {r["locator"].rsplit("/", 1)[1]: r for r in table.to_pylist()}
    assert [(n, rows[n]["status"], rows[n]["reason"]) for n in sorted(rows)] == [
        ("a_clean.jpg", "ok", ""), ("b_blurry.jpg", "dropped", "blurry"),
        ("c_document.png", "dropped", "graphics"), ("d_blown.jpg", "dropped", "clipped")]
    assert rows["b_blurry.jpg"]["detail"].startswith("sharpness ")
    assert rows["b_blurry.jpg"]["sharpness"] < DEFAULTS["min_sharpness"]
    assert rows["c_document.png"]["jpeg_quality"] is None
    for name, row in rows.items():
        measured = [n for n in fetch.QUALITY_FIGURES if row[n] is not None]
        # a white page (>= 247 everywhere but the text) has no unclipped block for noise
        assert measured == [n for n in fetch.QUALITY_FIGURES
                            if not (name == "c_document.png" and n == "noise")], name
    stats = json.loads(open(f"{out}/raw/00000.stats.json").read())
    assert stats["reasons"] == {"dropped:blurry": 1, "dropped:graphics": 1, "dropped:clipped": 1}
    with tarfile.open(f"{out}/raw/00000.tar") as tar:
        sample = json.loads(tar.extractfile(
            next(m for m in tar.getmembers() if m.name.endswith(".json"))).read())
    assert sample["sharpness"] == pytest.approx(rows["a_clean.jpg"]["sharpness"], rel=1e-6)
    assert set(fetch.QUALITY_FIGURES) <= set(sample)


def test_fetch_with_gates_disabled_keeps_everything(tmp_path):
    out = _fetch(tmp_path, {"enabled": False})
    rows = pq.read_table(f"{out}/raw/00000.parquet").to_pylist()
    assert {(r["status"], r["reason"]) for r in rows} == {("ok", "")}
    assert all(r["sharpness"] is not None for r in rows)


def test_a_photo_half_in_fog_is_not_graphics():
    """Smooth fog over half the frame makes one-colour blocks and few colours, as
    graphics do; the rest of the photo keeps the palette share below the gate."""
    pixels = procedural_image(3, 2400, 1600, sky_fraction=0.0).astype(np.float32)
    pixels[:800] = np.linspace(235, 205, 800, dtype=np.float32)[:, None, None]
    found = inspect_bytes(encode(np.clip(pixels, 0, 255).astype(np.uint8), "jpg", 90),
                          10**9, 512, DEFAULTS)
    assert found.flat_share > DEFAULTS["graphics_flat_share"]
    assert (found.status, found.reason) == ("ok", "")
