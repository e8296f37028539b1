"""The degraded calibration set: what each clean photo becomes (pure functions).

Every degradation is applied at the photo's native resolution, as a source on the
web would carry it, and saved as JPEG q92 (far above the JPEG gate) unless the
degradation is the compression itself:

| label | variants |
| --- | --- |
| clean | the original; q92 (Pillow), q75 (OpenCV); 1280 px web copy q85 (if > 1300 px) |
| upscaled | down then up: 2x Pillow bicubic / bilinear / Lanczos, OpenCV bicubic; |
| | 3x Pillow bicubic; 4x Pillow Lanczos, OpenCV bicubic |
| noisy | Gaussian noise per channel, sigma 5 / 10 / 25 |
| blurry | motion blur 9 and 15 px at a random angle; Gaussian sigma 1 and 2 px |
| low_jpeg_quality | q15 (Pillow), q30 (OpenCV), q45 (Pillow) |
| exposure | -2 and +2 stops in linear light (clipping) |

plus synthetic graphics (text pages, charts, flat illustrations, posters, logos,
line drawings, screenshots, a photo cut out on white), half PNG, half JPEG q90.
"""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image

from irdata.demo import synth


def jpeg(rgb: np.ndarray, quality: int, lib: str = "pil") -> bytes:
    if lib == "pil":
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
        return buf.getvalue()
    return synth.encode(rgb, "jpg", quality)


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



def _down_up(rgb: np.ndarray, factor: float, method: str) -> np.ndarray:
    """Shrink by `factor` (area average), then enlarge back with `method`."""
    height, width = rgb.shape[:2]
    small = (max(1, round(width / factor)), max(1, round(height / factor)))
    if method.startswith("cv_"):
        reduced = cv2.resize(rgb, small, interpolation=cv2.INTER_AREA)
        return cv2.resize(reduced, (width, height), interpolation=cv2.INTER_CUBIC)
    resample = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR,
                "lanczos": Image.LANCZOS}[method]
    image = Image.fromarray(rgb).resize(small, Image.BOX)
    return np.asarray(image.resize((width, height), resample))


UPSCALES = (("2x_bicubic", 2, "bicubic"), ("2x_bilinear", 2, "bilinear"),
            ("2x_lanczos", 2, "lanczos"), ("2x_cv_bicubic", 2, "cv_bicubic"),
            ("3x_bicubic", 3, "bicubic"), ("4x_lanczos", 4, "lanczos"),
            ("4x_cv_bicubic", 4, "cv_bicubic"))


def _long_side(rgb: np.ndarray, side: int) -> np.ndarray:
    height, width = rgb.shape[:2]
    scale = side / max(height, width)
    return cv2.resize(rgb, (round(width * scale), round(height * scale)),
                      interpolation=cv2.INTER_AREA)


def variants(rgb: np.ndarray, rng: np.random.Generator):
    """(label, variant, bytes) made from one clean source at its native resolution,
    the original file excepted."""
    out = [("clean", "q92", jpeg(rgb, 92)), ("clean", "q75", jpeg(rgb, 75, "cv"))]
    if max(rgb.shape[:2]) > 1300:
        out.append(("clean", "web1280_q85", jpeg(_long_side(rgb, 1280), 85, "cv")))
    out += [("upscaled", name, jpeg(_down_up(rgb, factor, method), 92))
            for name, factor, method in UPSCALES]
    out += [("noisy", f"noise{sigma}", jpeg(add_noise(rgb, sigma, rng), 92))
            for sigma in (5, 10, 25)]
    out += [("blurry", f"motion{length}", jpeg(motion_blur(rgb, length, rng.uniform(0, 180)), 92))
            for length in (9, 15)]
    out += [("blurry", f"gauss{sigma}", jpeg(cv2.GaussianBlur(rgb, (0, 0), sigma), 92))
            for sigma in (1, 2)]
    out += [("low_jpeg_quality", f"{lib}_q{quality}", jpeg(rgb, quality, lib))
            for quality, lib in ((15, "pil"), (30, "cv"), (45, "pil"))]
    out += [("exposure", f"stops{stops:+d}", jpeg(exposure(rgb, stops), 92)) for stops in (-2, 2)]
    return out
