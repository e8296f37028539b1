"""JPEG quality from quantisation tables, for Pillow- and OpenCV-written files."""

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from irdata.demo.synth import procedural_image
from irdata.quality.jpeg_quality import LUMINANCE, estimate_quality, scaled_table

PIXELS = procedural_image(3, 256, 192)


def _pillow(quality: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(PIXELS).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _opencv(quality: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(PIXELS, cv2.COLOR_RGB2BGR),
                           [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return buf.tobytes()


@pytest.mark.parametrize("encoder", [_pillow, _opencv])
@pytest.mark.parametrize("quality", [10, 25, 30, 50, 70, 75, 85, 90, 95])
def test_quality_recovered_within_five(encoder, quality):
    tables = Image.open(io.BytesIO(encoder(quality))).quantization
    estimate, error = estimate_quality(tables)
    assert abs(estimate - quality) <= 5
    assert error < 1.0  # IJG-scaled tables fit almost exactly


def test_q50_is_the_standard_table():
    assert np.array_equal(scaled_table(LUMINANCE, 50), LUMINANCE)


def test_non_jpeg_has_no_estimate():
    assert estimate_quality({}) == (None, float("inf"))


def test_custom_tables_fit_badly():
    flat = {0: [5] * 64, 1: [5] * 64}
    _, error = estimate_quality(flat)
    assert error > 1.0  # worse than any IJG-scaled table above


def test_inspect_records_the_quality_of_jpegs_only():
    from irdata.demo.synth import encode
    from irdata.inspection import inspect_bytes

    big = procedural_image(5, 800, 600)
    assert abs(inspect_bytes(encode(big, "jpg", 83), 10**9, 512).jpeg_quality - 83) <= 5
    assert inspect_bytes(encode(big, "png"), 10**9, 512).jpeg_quality is None
