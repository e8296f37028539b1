"""Calibrate the source quality gates on a labelled set made from real photos.

    python benchmarks/quality_calibration.py FOLDER [FOLDER ...] [--timing PHOTO]
        [--runs N] [--no-record]

Every image of the FOLDERs is a clean real photo. For each one the script makes
(at a "base" size, long side <= 2048, strengths defined at the 960 px working
resolution so that they mean the same on every source):

- clean copies: the original file, the base re-encoded at q92 (Pillow) and q75
  (OpenCV), and a 1280 px web copy at q85 (sources above 1300 px);
- blurry: Gaussian sigma 1.5 / 2.5 / 4 working pixels, motion blur 9 working pixels;
- low_jpeg_quality: re-encoded at q15 (Pillow), q30 (OpenCV), q45 (Pillow);
- noisy: Gaussian noise sigma 5 / 10 / 20 per channel at the working resolution;
- too_dark: exposure -2.5 / -3.5 stops (linear light); overexposed: +1.5 / +2.5 stops;

plus synthetic graphics (text pages, charts, flat illustrations, posters with a
gradient background, logos, line drawings, screenshots, photos of a "product" on
white), half PNG, half JPEG q90. Degraded copies are JPEG q92.

Every item goes through `inspect_bytes` exactly as in the fetch stage (reduced
decode, working resolution) with the gates off, so every figure is recorded.
The script then prints, per gate, precision / recall over a threshold sweep and
at the library default, recall per degradation variant, the clean false-drop
rate of all gates together, the suite's procedural images under the defaults,
JPEG-quality estimation error (Pillow and OpenCV, q30-95), and the cost per
photo (decode, working resize, gates) on one core. Appends rows to
BENCHMARKS.md unless --no-record.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time

import cv2
import numpy as np
from PIL import Image

from irdata import config as config_mod
from irdata import synth
from irdata.imaging import decode, hashing
from irdata.imaging.inspect import inspect_bytes
from irdata.quality import gates, working
from irdata.quality.jpeg_quality import estimate_quality

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from image_files import decoded, image_paths
from record import append_result, machine

BASE_SIDE = 2048
DEFAULTS = {name: spec.default for name, spec in config_mod.QUALITY.items()}

# gate reason -> (label it should catch, figure, settings key, direction)
GATES = {
    "low_jpeg_quality": ("low_jpeg_quality", "jpeg_quality", "min_jpeg_quality", "below"),
    "graphics": ("graphics", None, None, None),
    "too_dark": ("too_dark", "highlights", "min_highlights", "below"),
    "too_bright": ("overexposed", "brightness", "max_brightness", "above"),
    "clipped": ("overexposed", "clipped", "max_clipped", "above"),
    "blurry": ("blurry", "sharpness", "min_sharpness", "below"),
    "noisy": ("noisy", "noise", "max_noise", "above"),
}
SWEEPS = {
    "min_jpeg_quality": [40, 50, 55, 60, 65, 70, 75],
    "min_highlights": [80, 90, 100, 110, 120],
    "max_brightness": [170, 175, 180, 185, 190, 200],
    "max_clipped": [0.3, 0.4, 0.5, 0.6, 0.7, 0.8],
    "min_sharpness": [0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.7],
    "max_noise": [1.5, 1.75, 2.0, 2.25, 2.5, 3.0],
    "graphics_flat_share": [0.1, 0.15, 0.2, 0.25, 0.3, 0.4],
    "graphics_palette_share": [0.5, 0.6, 0.7, 0.8],
}


# -- encoding and degradations (pure functions of an RGB array) -------------------

def jpeg(rgb: np.ndarray, quality: int, lib: str = "pil") -> bytes:
    if lib == "pil":
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
        return buf.getvalue()
    return synth.encode(rgb, "jpg", quality)


def resize_long(rgb: np.ndarray, side: int) -> np.ndarray:
    return working.to_working(rgb, side)


def exposure(rgb: np.ndarray, stops: float) -> np.ndarray:
    """Change exposure by `stops` in linear light (sRGB transfer curve), clipping."""
    v = np.arange(256) / 255.0
    linear = np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4) * 2.0 ** stops
    linear = np.clip(linear, 0, 1)
    out = np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)
    return np.clip(out * 255 + 0.5, 0, 255).astype(np.uint8)[rgb]


def motion_blur(rgb: np.ndarray, length: int, angle: float) -> np.ndarray:
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2] = 1
    centre = (length / 2 - 0.5, length / 2 - 0.5)
    kernel = cv2.warpAffine(kernel, cv2.getRotationMatrix2D(centre, angle, 1), (length, length))
    return cv2.filter2D(rgb, -1, kernel / kernel.sum())


def add_noise(rgb: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    noisy = rgb + rng.normal(0, sigma, rgb.shape).astype(np.float32)
    return np.clip(noisy + 0.5, 0, 255).astype(np.uint8)


def variants(rgb: np.ndarray, rng: np.random.Generator) -> list[tuple[str, str, bytes]]:
    """(label, variant, bytes) made from one clean source."""
    base = resize_long(rgb, BASE_SIDE)
    s = max(1.0, max(base.shape[:2]) / working.WORK_SIDE)  # base pixels per working pixel
    out = [("clean", "base_q92", jpeg(base, 92)), ("clean", "base_q75", jpeg(base, 75, "cv"))]
    if max(rgb.shape[:2]) > 1300:
        out.append(("clean", "web1280_q85", jpeg(resize_long(rgb, 1280), 85, "cv")))
    for sigma in (1.5, 2.5, 4.0):
        out.append(("blurry", f"gauss{sigma}", jpeg(cv2.GaussianBlur(base, (0, 0), sigma * s), 92)))
    length = max(3, int(9 * s)) | 1
    out.append(("blurry", "motion9", jpeg(motion_blur(base, length, rng.uniform(0, 180)), 92)))
    for quality, lib in ((15, "pil"), (30, "cv"), (45, "pil")):
        out.append(("low_jpeg_quality", f"{lib}_q{quality}", jpeg(base, quality, lib)))
    for sigma in (5, 10, 20):
        out.append(("noisy", f"noise{sigma}", jpeg(add_noise(base, sigma * s, rng), 92)))
    for stops in (-2.5, -3.5):
        out.append(("too_dark", f"stops{stops}", jpeg(exposure(base, stops), 92)))
    for stops in (1.5, 2.5):
        out.append(("overexposed", f"stops+{stops}", jpeg(exposure(base, stops), 92)))
    return out


# -- synthetic graphics ------------------------------------------------------------

FONTS = [cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX,
         cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_PLAIN]
WORDS = ("the of and to in is that for it as was with be by on not this are or from at "
         "which but have an they you were there one all we their").split()


def _colour(rng, low=0, high=256) -> tuple:
    return tuple(int(c) for c in rng.integers(low, high, 3))


def _text(img, rng, box, size, colour, antialias=True) -> None:
    x0, y0, x1, y1 = box
    step = int(30 * size) + 8
    font = FONTS[rng.integers(len(FONTS))]
    for y in range(y0 + step, y1, step):
        line = " ".join(rng.choice(WORDS, 30))
        cv2.putText(img[:, :x1], line, (x0, y), font, size, colour, max(1, round(size * 1.5)),
                    cv2.LINE_AA if antialias else cv2.LINE_8)


def text_page(rng, h, w, photo):
    img = np.full((h, w, 3), _colour(rng, 225, 256), np.uint8)
    m = w // 12
    _text(img, rng, (m, m, w - m, h - m), rng.uniform(0.6, 1.4), _colour(rng, 0, 60),
          rng.random() < 0.7)
    return img


def chart(rng, h, w, photo):
    img = np.full((h, w, 3), _colour(rng, 235, 256), np.uint8)
    x0, y0, x1, y1 = w // 10, h // 10, w - w // 20, h - h // 10
    cv2.line(img, (x0, y1), (x1, y1), (0, 0, 0), 2)
    cv2.line(img, (x0, y0), (x0, y1), (0, 0, 0), 2)
    n = int(rng.integers(4, 12))
    bar = (x1 - x0) // (2 * n)
    if rng.random() < 0.5:
        for i in range(n):
            top = int(rng.integers(y0, y1 - 10))
            cv2.rectangle(img, (x0 + bar * (2 * i + 1), top), (x0 + bar * (2 * i + 2), y1),
                          _colour(rng), -1)
    else:
        for _ in range(int(rng.integers(1, 4))):
            pts = np.stack([np.linspace(x0, x1, 30), rng.uniform(y0, y1, 30)], 1)
            cv2.polylines(img, [pts.astype(np.int32)], False, _colour(rng, 0, 200), 3,
                          cv2.LINE_AA)
    for i in range(5):
        cv2.putText(img, f"{i * 20}", (x0 - 60, y1 - i * (y1 - y0) // 5), FONTS[0], 0.8,
                    (0, 0, 0), 2, cv2.LINE_AA)
    cv2.putText(img, "Quarterly results", (w // 3, y0 - 20), FONTS[1], 1.5, (0, 0, 0), 2,
                cv2.LINE_AA)
    return img


def illustration(rng, h, w, photo):
    img = np.full((h, w, 3), _colour(rng), np.uint8)
    palette = [_colour(rng) for _ in range(int(rng.integers(3, 9)))]
    for _ in range(int(rng.integers(8, 40))):
        colour = palette[rng.integers(len(palette))]
        kind = rng.integers(3)
        if kind == 0:
            centre = (int(rng.integers(w)), int(rng.integers(h)))
            cv2.circle(img, centre, int(rng.integers(20, h // 3)), colour, -1, cv2.LINE_AA)
        elif kind == 1:
            a, b = rng.integers(0, [w, h], (2, 2))
            cv2.rectangle(img, (int(a[0]), int(a[1])), (int(b[0]), int(b[1])), colour, -1)
        else:
            pts = rng.integers(0, [w, h], (int(rng.integers(3, 7)), 2)).astype(np.int32)
            cv2.fillPoly(img, [pts], colour, cv2.LINE_AA)
    return img


def poster(rng, h, w, photo):
    top, bottom = np.array(_colour(rng), np.float32), np.array(_colour(rng), np.float32)
    ramp = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    img = np.ascontiguousarray(np.broadcast_to(top + (bottom - top) * ramp, (h, w, 3)),
                               dtype=np.uint8)
    for _ in range(int(rng.integers(3, 10))):
        centre = (int(rng.integers(w)), int(rng.integers(h)))
        cv2.circle(img, centre, int(rng.integers(20, h // 4)), _colour(rng), -1, cv2.LINE_AA)
    _text(img, rng, (w // 10, h // 2, w - w // 10, h // 2 + h // 4), 2.0, (255, 255, 255))
    return img


def logo(rng, h, w, photo):
    img = np.full((h, w, 3), 255, np.uint8)
    colour = _colour(rng, 0, 200)
    cx, cy, r = w // 2, h // 2 - h // 10, min(h, w) // 5
    cv2.circle(img, (cx, cy), r, colour, -1, cv2.LINE_AA)
    cv2.circle(img, (cx, cy), r // 2, (255, 255, 255), -1, cv2.LINE_AA)
    cv2.putText(img, "ACME CORP", (cx - 2 * r, cy + r + int(0.8 * r)), FONTS[1], r / 40, colour,
                max(2, r // 15), cv2.LINE_AA)
    return img


def line_drawing(rng, h, w, photo):
    img = np.full((h, w, 3), _colour(rng, 235, 256), np.uint8)
    for _ in range(int(rng.integers(30, 120))):
        steps = rng.normal(0, 25, (int(rng.integers(5, 30)), 2))
        pts = np.cumsum(steps, 0) + rng.integers(0, [w, h])
        cv2.polylines(img, [pts.astype(np.int32)], False, (20, 20, 20), int(rng.integers(1, 4)),
                      cv2.LINE_AA)
    return img


def screenshot(rng, h, w, photo):
    img = np.full((h, w, 3), _colour(rng, 230, 256), np.uint8)
    cv2.rectangle(img, (0, 0), (w, 60), _colour(rng, 30, 120), -1)
    cv2.rectangle(img, (0, 60), (w // 5, h), _colour(rng, 200, 240), -1)
    for i in range(int(rng.integers(3, 8))):
        x, y = w // 5 + 40, 100 + 140 * i
        cv2.rectangle(img, (x, y), (w - 40, y + 110), _colour(rng, 240, 256), -1)
        cv2.rectangle(img, (x, y), (w - 40, y + 110), (200, 200, 200), 1)
        _text(img, rng, (x + 10, y, w - 60, y + 100), 0.7, (40, 40, 40))
    for i in range(12):
        cv2.putText(img, "Menu item", (20, 110 + 50 * i), FONTS[0], 0.8, (60, 60, 60), 2,
                    cv2.LINE_AA)
    return img


def product(rng, h, w, photo):
    """A photo cut to an ellipse on a white background (a product shot)."""
    img = np.full((h, w, 3), 255, np.uint8)
    ph, pw = h // 2, w // 3
    crop = cv2.resize(photo, (pw, ph), interpolation=cv2.INTER_AREA)
    mask = np.zeros((ph, pw), np.uint8)
    cv2.ellipse(mask, (pw // 2, ph // 2), (pw // 2 - 2, ph // 2 - 2), 0, 0, 360, 255, -1)
    region = img[(h - ph) // 2:(h - ph) // 2 + ph, (w - pw) // 2:(w - pw) // 2 + pw]
    region[mask > 0] = crop[mask > 0]
    return img


GRAPHICS = {"text_page": text_page, "chart": chart, "illustration": illustration,
            "poster": poster, "logo": logo, "line_drawing": line_drawing,
            "screenshot": screenshot, "product": product}


def graphics_items(rng, photos: list[np.ndarray], per_kind: int = 8) -> list[tuple]:
    out = []
    for kind, make in GRAPHICS.items():
        for i in range(per_kind):
            w = int(rng.integers(1024, 2600))
            h = int(w * rng.uniform(0.6, 1.4))
            img = make(rng, h, w, photos[i % len(photos)])
            data = synth.encode(img, "png") if i % 2 == 0 else jpeg(img, 90)
            out.append(("graphics", kind, "synthetic", data))
    return out


# -- the labelled set and its figures ----------------------------------------------

def labelled_set(paths: list[str], seed: int = 0
                 ) -> tuple[list[tuple[str, str, str, bytes]], list[str]]:
    """(label, variant, source, bytes) for every item, and the paths used: a file
    inspection drops is skipped with a note (a folder of photos may hold a stray file)."""
    rng = np.random.default_rng(seed)
    items, photos, used = [], [], []
    for path in paths:
        found = decoded(path)
        if found is None:
            continue
        data, rgb = found
        name = os.path.join(os.path.basename(os.path.dirname(path)), os.path.basename(path))
        photos.append(resize_long(rgb, 1024))
        used.append(path)
        items.append(("clean", "original", name, data))
        items += [(label, variant, name, b) for label, variant, b in variants(rgb, rng)]
    return items + graphics_items(rng, photos), used


def figures_of(items: list[tuple]) -> list[dict]:
    rows = []
    for label, variant, source, data in items:
        found = inspect_bytes(data, 10**9, 1)  # no settings: measure only
        rows.append({"label": label, "variant": variant, "source": source,
                     **{name: getattr(found, name) for name in gates.FIGURES}})
    return rows


# -- scoring -------------------------------------------------------------------------

def flagged(rows: list[dict], reason: str, settings: dict) -> np.ndarray:
    """Which rows this one gate fails (ignoring the other gates)."""
    return np.array([any(r == reason for r, _ in gates.failures(row, settings)) for row in rows])


def scores(predicted: np.ndarray, truth: np.ndarray, clean: np.ndarray) -> dict:
    tp = int(np.sum(predicted & truth))
    fp = int(np.sum(predicted & ~truth))
    return {"precision": tp / (tp + fp) if tp + fp else 1.0,
            "recall": tp / int(truth.sum()) if truth.any() else 0.0,
            "clean_drops": int(np.sum(predicted & clean)), "tp": tp, "fp": fp}


def sweep(rows: list[dict]) -> list[str]:
    labels = np.array([row["label"] for row in rows])
    clean = labels == "clean"
    lines = []
    for reason, (label, _, key, _) in GATES.items():
        keys = [key] if key else ["graphics_flat_share", "graphics_palette_share"]
        for k in keys:
            for value in SWEEPS[k]:
                settings = dict(DEFAULTS, **{k: value})
                s = scores(flagged(rows, reason, settings), labels == label, clean)
                mark = " <- default" if value == DEFAULTS[k] else ""
                lines.append(f"  {reason:17s} {k:23s} {value:>6g}: precision "
                             f"{s['precision']:.3f} recall {s['recall']:.3f} clean drops "
                             f"{s['clean_drops']}{mark}")
    return lines


def default_table(rows: list[dict]) -> list[str]:
    """Markdown: each gate at its default, alone and in the pipeline (first failure wins)."""
    labels = np.array([row["label"] for row in rows])
    clean = labels == "clean"
    verdicts = np.array([gates.judge(row, DEFAULTS)[0] for row in rows])
    out = ["| gate | figure and default | catches label | precision alone | recall alone "
           "| precision in order | recall in order | clean drops |",
           "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for reason, (label, figure, key, direction) in GATES.items():
        alone = scores(flagged(rows, reason, DEFAULTS), labels == label, clean)
        in_order = scores(verdicts == reason, labels == label, clean)
        rule = (f"flat_share > {DEFAULTS['graphics_flat_share']:g} and palette_share > "
                f"{DEFAULTS['graphics_palette_share']:g}" if figure is None else
                f"{figure} {'<' if direction == 'below' else '>'} {DEFAULTS[key]:g}")
        out.append(f"| {reason} | {rule} | {label} | {alone['precision']:.3f} | "
                   f"{alone['recall']:.3f} | {in_order['precision']:.3f} | "
                   f"{in_order['recall']:.3f} | {alone['clean_drops']} / {int(clean.sum())} |")
    return out


def variant_table(rows: list[dict]) -> list[str]:
    """Markdown: per label and variant, share dropped by all gates, share for the right reason."""
    out = ["| label | variant | items | dropped | for the expected reason | reasons |",
           "| --- | --- | --- | --- | --- | --- |"]
    expected = {label: {r for r, (lab, *_) in GATES.items() if lab == label}
                for label in {g[0] for g in GATES.values()}}
    groups: dict[tuple, list[str]] = {}
    for row in rows:
        groups.setdefault((row["label"], row["variant"]), []).append(
            gates.judge(row, DEFAULTS)[0])
    for (label, variant), reasons in sorted(groups.items()):
        dropped = [r for r in reasons if r]
        right = [r for r in dropped if r in expected.get(label, set())]
        counts = ", ".join(f"{r} {dropped.count(r)}" for r in sorted(set(dropped)))
        out.append(f"| {label} | {variant} | {len(reasons)} | {len(dropped) / len(reasons):.2f} "
                   f"| {len(right) / len(reasons):.2f} | {counts} |")
    return out


def clean_drops(rows: list[dict]) -> tuple[float, list[str]]:
    clean = [row for row in rows if row["label"] == "clean"]
    found = [(row, gates.judge(row, DEFAULTS)) for row in clean]
    dropped = [f"{row['source']} ({row['variant']}): {reason}: {detail}"
               for row, (reason, detail) in found if reason]
    return len(dropped) / len(clean), dropped


# (width, height), format, JPEG quality, sky fraction (None: random) of the images the
# test suite and the demo generate with irdata.synth.procedural_image.
SUITE_IMAGES = [((768, 576), "jpg", 92, None), ((640, 520), "jpg", 90, None),
                ((1100, 700), "png", 0, None), ((700, 600), "png", 0, None),
                ((1300, 800), "png", 0, 0.0), ((1100, 600), "png", 0, 0.0),
                ((600, 1100), "jpg", 95, 0.0), ((1536, 1024), "jpg", 92, None),
                ((2048, 1365), "jpg", 92, None), ((1536, 1024), "jpg", 92, 0.6)]


def procedural_check(seeds: int = 40) -> tuple[int, int, list[str]]:
    """The test suite's and the demo's generated images under the default gates."""
    cases, dropped = 0, []
    for seed in range(seeds):
        for size, fmt, quality, sky in SUITE_IMAGES:
            pixels = synth.procedural_image(seed, *size, sky_fraction=sky)
            found = inspect_bytes(synth.encode(pixels, fmt, quality), 10**9, 1, DEFAULTS)
            cases += 1
            if found.status != "ok":
                dropped.append(f"seed {seed} {size} {fmt} sky {sky}: {found.detail}")
    return cases, len(dropped), dropped


def jpeg_quality_errors(paths: list[str]) -> dict[str, int]:
    """Largest |estimate - encoder quality| over q 30..95 for Pillow and OpenCV."""
    worst = {"pil": 0, "cv": 0}
    for path in paths[::4]:
        rgb = resize_long(decoded(path)[1], 512)  # paths: the ones labelled_set used
        for lib in worst:
            for quality in range(30, 96, 5):
                tables = Image.open(io.BytesIO(jpeg(rgb, quality, lib))).quantization
                worst[lib] = max(worst[lib], abs(estimate_quality(tables)[0] - quality))
    return worst


# -- cost ------------------------------------------------------------------------------

def _median_ms(work, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return float(np.median(times) * 1e3)


def cost(path: str, runs: int) -> dict:
    """Median ms on one core: reduced decode, working resize, gates, hashes, whole inspect."""
    cv2.setNumThreads(1)
    with open(path, "rb") as fh:
        data = fh.read()
    fmt = inspect_bytes(data, 10**9, 1).format

    def reduced():
        img = decode.open_header(data, fmt)
        if fmt == "jpeg":
            img.draft("RGB", working.draft_request(*img.size))
        return decode.to_rgb8(decode.load(img))

    pixels = reduced()
    work = working.to_working(pixels)
    return {"megapixels": Image.open(io.BytesIO(data)).size[0] * Image.open(
                io.BytesIO(data)).size[1] / 1e6,
            "decoded": pixels.shape[:2], "working": work.shape[:2],
            "decode": _median_ms(reduced, runs),
            "resize": _median_ms(lambda: working.to_working(pixels), runs),
            "gates": _median_ms(lambda: gates.measure(work), runs),
            "hashes": _median_ms(lambda: hashing.phash(hashing.thumbnail(pixels)), runs),
            "inspect": _median_ms(lambda: inspect_bytes(data, 10**9, 512, DEFAULTS), runs)}


def closest_to_12mp(paths: list[str]) -> str:
    def distance(path):
        width, height = Image.open(path).size
        return abs(width * height - 12e6)
    return min(paths, key=distance)


# -- main --------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", help="folders of clean real photos")
    parser.add_argument("--timing", help="photo to time (default: the source closest to 12 MP)")
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--no-record", action="store_true", help="do not append to BENCHMARKS.md")
    args = parser.parse_args()

    started = time.time()
    items, paths = labelled_set(image_paths(args.folders))
    rows = figures_of(items)
    counts = {label: sum(r["label"] == label for r in rows) for label in
              sorted({r["label"] for r in rows})}
    print(f"{len(rows)} labelled items from {len(paths)} photos ({time.time() - started:.0f} s):",
          ", ".join(f"{k} {v}" for k, v in counts.items()))
    print("\nsweep (each gate alone; precision over all items, recall of its label):")
    print("\n".join(sweep(rows)))
    print("\nat the defaults, each gate alone:\n" + "\n".join(default_table(rows)))
    print("\nall gates together (first failing gate names the reason):\n"
          + "\n".join(variant_table(rows)))
    rate, dropped = clean_drops(rows)
    print(f"\nclean false-drop rate: {rate:.4f} ({len(dropped)} of {counts['clean']})")
    print("\n".join(f"  {line}" for line in dropped))
    cases, n_dropped, lines = procedural_check()
    print(f"\nsuite's procedural images: {n_dropped} of {cases} dropped")
    print("\n".join(f"  {line}" for line in lines))
    worst = jpeg_quality_errors(paths)
    print(f"\nJPEG quality estimate, largest error q30-95: Pillow {worst['pil']}, "
          f"OpenCV {worst['cv']}")
    timing = args.timing or closest_to_12mp(paths)
    ms = cost(timing, args.runs)
    print(f"\ncost on one core, {os.path.basename(timing)} ({ms['megapixels']:.1f} MP, decoded "
          f"at {ms['decoded'][1]}x{ms['decoded'][0]}, working {ms['working'][1]}x"
          f"{ms['working'][0]}), median of {args.runs}: reduced decode {ms['decode']:.1f} ms, "
          f"working resize {ms['resize']:.1f} ms, gates {ms['gates']:.1f} ms, hashes "
          f"{ms['hashes']:.1f} ms, whole inspect {ms['inspect']:.1f} ms")
    if not args.no_record:
        names = "+".join(os.path.basename(os.path.normpath(f)) for f in args.folders)
        data = f"{names} ({len(paths)} photos, {len(rows)} labelled items)"
        summary = "; ".join(f"{cells[1].strip()} P {cells[4].strip()} R {cells[5].strip()}"
                            for cells in (line.split("|") for line in default_table(rows)[2:]))
        print(append_result("quality_calibration", data, f"defaults, {machine()}",
                            f"{summary}; clean false drops {len(dropped)}/{counts['clean']}; "
                            f"procedural dropped {n_dropped}/{cases}; JPEG q error "
                            f"max {max(worst.values())}"))
        print(append_result("quality_cost", os.path.basename(timing),
                            f"1 thread, median of {args.runs}, {machine()}",
                            f"{ms['megapixels']:.1f} MP: gates {ms['gates']:.1f} ms, reduced "
                            f"decode {ms['decode']:.1f} ms, resize {ms['resize']:.1f} ms, whole "
                            f"inspect {ms['inspect']:.1f} ms"))


if __name__ == "__main__":
    main()
