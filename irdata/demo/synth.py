"""Procedural high-resolution test images (pure functions of a seed) for demo and tests:
textured ground beside smooth sky-like gradients, so stages see detailed and flat areas.
The finest texture is made at native resolution, as in a photograph: an enlarged coarse
grid would carry an upscale's band limit and periodicity, which the quality gates drop."""

from __future__ import annotations

import cv2
import numpy as np


def _smooth_noise(rng: np.random.Generator, height: int, width: int, scale: int) -> np.ndarray:
    small = rng.random((max(2, height // scale), max(2, width // scale)), dtype=np.float32)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC)


def _sky(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    top = rng.uniform(0.3, 0.9, 3).astype(np.float32)
    bottom = rng.uniform(0.5, 1.0, 3).astype(np.float32)
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    return np.broadcast_to(top + (bottom - top) * ramp, (height, width, 3)).copy()


def _fine_noise(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """Native-resolution detail in [0, 1]: blurred white noise, denser in some places."""
    white = rng.random((height, width), dtype=np.float32)
    fine = cv2.GaussianBlur(white, (0, 0), 0.9)
    fine = (fine - 0.5) * 3.0 + 0.5
    density = np.clip(_smooth_noise(rng, height, width, 47) * 2.0 - 0.6, 0.0, 1.0)
    return 0.5 + (fine - 0.5) * density


def _texture(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    layers = [_fine_noise(rng, height, width)] + [_smooth_noise(rng, height, width, s)
                                                  for s in (9, 31)]
    base = 0.5 * layers[0] + 0.3 * layers[1] + 0.2 * layers[2]
    tint = rng.uniform(0.4, 1.0, 3).astype(np.float32)
    image = base[..., None] * tint
    for _ in range(int(rng.integers(20, 60))):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        colour = tuple(float(c) for c in rng.uniform(0, 1, 3))
        radius = int(rng.integers(8, max(9, min(height, width) // 12)))
        cv2.circle(image, (x, y), radius, colour, int(rng.integers(1, 6)))
    return image


def _marks(rng: np.random.Generator, image: np.ndarray) -> None:
    height, width = image.shape[:2]
    for _ in range(int(rng.integers(5, 15))):
        x, y = int(rng.integers(0, width)), int(rng.integers(20, height))
        cv2.putText(image, f"irdata {rng.integers(0, 1000)}", (x, y),
                    cv2.FONT_HERSHEY_SIMPLEX, float(rng.uniform(0.8, 3.0)),
                    tuple(int(c) for c in rng.integers(0, 256, 3)), 2)


def procedural_image(seed: int, width: int = 1536, height: int = 1024,
                     sky_fraction: float | None = None) -> np.ndarray:
    """An HxWx3 uint8 RGB image: a smooth sky band over a textured ground."""
    rng = np.random.default_rng(seed)
    if sky_fraction is None:
        sky_fraction = float(rng.uniform(0.0, 0.6))
    horizon = int(height * sky_fraction)
    image = _texture(rng, height, width)
    if horizon:
        image[:horizon] = _sky(rng, horizon, width)
    pixels = np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)
    _marks(rng, pixels[horizon:])
    return pixels


def encode(pixels: np.ndarray, fmt: str = "jpg", quality: int = 92) -> bytes:
    """RGB array -> encoded bytes (jpg or png)."""
    bgr = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    params = [cv2.IMWRITE_JPEG_QUALITY, quality] if fmt == "jpg" else []
    ok, buf = cv2.imencode(f".{fmt}", bgr, params)
    if not ok:
        raise ValueError(f"cannot encode as {fmt}")
    return buf.tobytes()


def near_duplicate(pixels: np.ndarray, scale: float = 0.5, quality: int = 70) -> bytes:
    """A resized, re-encoded copy of an image (a planted near-duplicate)."""
    height, width = pixels.shape[:2]
    size = (max(1, int(width * scale)), max(1, int(height * scale)))
    return encode(cv2.resize(pixels, size, interpolation=cv2.INTER_AREA), "jpg", quality)
