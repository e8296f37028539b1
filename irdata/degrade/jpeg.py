"""A real JPEG round trip (OpenCV / libjpeg-turbo) of the image rounded to uint8, at a drawn
quality and chroma ``subsampling`` ("420", libjpeg's default, "422" or "444")."""

from __future__ import annotations

import cv2
import numpy as np

from . import ranges
from .convert import to_float, to_uint8

NAME = "jpeg"
SUBSAMPLING = {
    "420": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420,
    "422": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_422,
    "444": cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444,
}
DEFAULTS = {"quality": [10, 90], "subsampling": {"choice": ["420", "444"]}}
LEVELS = {"low": {"quality": 70, "subsampling": "420"},
          "mid": {"quality": 30, "subsampling": "420"},
          "high": {"quality": 10, "subsampling": "420"}}


def sample(rng: np.random.Generator, config: dict | None = None) -> dict:
    """{"quality": 1-100, "subsampling": "420" | "422" | "444"}."""
    cfg = ranges.resolve(DEFAULTS, config, NAME)
    quality = ranges.integer(rng, cfg["quality"])
    subsampling = str(ranges.pick(rng, cfg["subsampling"]))
    if subsampling not in SUBSAMPLING or not 1 <= quality <= 100:
        raise ValueError(f"{NAME}: bad quality {quality} or subsampling {subsampling!r}")
    return {"quality": quality, "subsampling": subsampling}


def encode(image: np.ndarray, params: dict) -> bytes:
    """The JPEG bytes of a float RGB image."""
    bgr = cv2.cvtColor(to_uint8(image), cv2.COLOR_RGB2BGR)
    ok, data = cv2.imencode(".jpg", bgr, [
        cv2.IMWRITE_JPEG_QUALITY, int(params["quality"]),
        cv2.IMWRITE_JPEG_SAMPLING_FACTOR, SUBSAMPLING[params["subsampling"]]])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return data.tobytes()


def apply(image: np.ndarray, params: dict) -> np.ndarray:
    """Encode at the params' quality and subsampling, decode."""
    data = np.frombuffer(encode(image, params), np.uint8)
    rgb = cv2.cvtColor(cv2.imdecode(data, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    return to_float(rgb)
