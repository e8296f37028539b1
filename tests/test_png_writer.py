"""The ISA-L PNG writer: standard PNG that every reader decodes to the same pixels."""

import io
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from irdata.demo.synth import procedural_image
from irdata.imaging.encode import encode_png
from irdata.imaging.png_writer import write_png


def _photo_like(height: int, width: int, seed: int = 0) -> np.ndarray:
    return procedural_image(seed, width, height)


@pytest.mark.parametrize("row_filter", ["up", "sub", "none"])
@pytest.mark.parametrize("level", [0, 1, 2, 3])
def test_pillow_and_opencv_decode_the_exact_pixels(row_filter, level):
    rgb = _photo_like(96, 130, seed=level)
    png = write_png(rgb, level, row_filter)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png))), rgb)
    bgr = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)
    assert np.array_equal(bgr[..., ::-1], rgb)


def test_a_strided_crop_is_written_as_the_crop():
    rgb = _photo_like(300, 400, seed=3)
    crop = rgb[17:17 + 128, 41:41 + 128]
    assert not crop.flags.c_contiguous
    decoded = np.asarray(Image.open(io.BytesIO(write_png(crop))))
    assert np.array_equal(decoded, crop)


def test_chunks_carry_valid_crcs_and_the_ihdr():
    png = write_png(_photo_like(40, 50))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, kinds = 8, []
    while pos < len(png):
        length = int.from_bytes(png[pos:pos + 4], "big")
        kind, data = png[pos + 4:pos + 8], png[pos + 8:pos + 8 + length]
        crc = int.from_bytes(png[pos + 8 + length:pos + 12 + length], "big")
        assert crc == zlib.crc32(kind + data), kind
        kinds.append(kind)
        pos += 12 + length
    assert kinds == [b"IHDR", b"IDAT", b"IEND"]
    ihdr = png[16:29]
    assert int.from_bytes(ihdr[:4], "big") == 50 and int.from_bytes(ihdr[4:8], "big") == 40
    assert ihdr[8:] == bytes([8, 2, 0, 0, 0])  # 8-bit RGB, no interlace


def test_compresses_like_opencv_within_a_fifth():
    rgb = _photo_like(512, 512, seed=5)
    ours, opencv = len(encode_png(rgb)), len(encode_png(rgb, encoder="opencv"))
    assert ours < len(rgb.tobytes()) * 0.9
    assert ours < opencv * 1.2


@pytest.mark.parametrize("bad, message", [
    (np.zeros((4, 4), np.uint8), "HxWx3 uint8"),
    (np.zeros((4, 4, 3), np.uint16), "HxWx3 uint8"),
    (np.zeros((4, 4, 4), np.uint8), "HxWx3 uint8"),
])
def test_rejects_what_it_cannot_write(bad, message):
    with pytest.raises(ValueError, match=message):
        write_png(bad)


def test_rejects_unknown_levels_filters_and_encoders():
    rgb = np.zeros((4, 4, 3), np.uint8)
    with pytest.raises(ValueError, match="0-3"):
        write_png(rgb, level=6)
    with pytest.raises(ValueError, match="row filter"):
        write_png(rgb, row_filter="paeth")
    with pytest.raises(ValueError, match="unknown PNG encoder"):
        encode_png(rgb, encoder="zopfli")


def test_stored_patches_decode_back_to_rgb_and_junk_is_refused():
    from irdata.imaging.decode import decode_png

    rgb = _photo_like(64, 80, seed=9)
    for encoder in ("isal", "opencv"):
        assert np.array_equal(decode_png(encode_png(rgb, encoder=encoder)), rgb)
    with pytest.raises(ValueError, match="not a decodable PNG"):
        decode_png(b"\x89PNG\r\n\x1a\n truncated")


def test_a_missing_isal_package_is_named_with_the_way_out(monkeypatch):
    from irdata.imaging import png_writer

    monkeypatch.setattr(png_writer, "isal_zlib", None)
    with pytest.raises(RuntimeError, match="png_encoder: opencv"):
        encode_png(np.zeros((4, 4, 3), np.uint8))
    assert encode_png(np.zeros((4, 4, 3), np.uint8), encoder="opencv")[:4] == b"\x89PNG"
