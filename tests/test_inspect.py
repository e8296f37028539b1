"""inspect_bytes and sniff on real encoded images: formats, EXIF orientation, the
normalisation rule to 8-bit RGB, every drop reason, and pHash stability."""

from __future__ import annotations

import io
import struct
import time

import numpy as np
import pytest
from hostile_corpus import UPRIGHT, bomb_jpeg, bomb_png, save, with_orientation
from PIL import Image, ImageFile

from irdata.demo.synth import encode, near_duplicate, procedural_image
from irdata.imaging import decode
from irdata.imaging.sniff import sniff
from irdata.inspection import inspect_bytes

BIG = 100_000_000  # max_pixels for ordinary cases
HEX16 = set("0123456789abcdef")


def asymmetric(height: int = 60, width: int = 80) -> np.ndarray:
    """Noise with a bright top-left corner: no flip or rotation maps it onto itself."""
    pixels = (np.random.default_rng(7).random((height, width, 3)) * 200).astype(np.uint8)
    pixels[:10, :20] = 255
    return pixels


def decode_rgb(data: bytes, fmt: str) -> np.ndarray:
    """The documented decode sequence: header, full load, RGB rule, remaining orientation."""
    img = decode.open_header(data, fmt)
    decode.load(img)
    return decode.orient(decode.to_rgb8(img), decode.exif_orientation(img))


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


# -- ordinary images --------------------------------------------------------

@pytest.mark.parametrize("fmt, expected_format", [("jpg", "jpeg"), ("png", "png")])
def test_normal_image(fmt, expected_format):
    data = encode(procedural_image(1, 640, 560), fmt)
    result = inspect_bytes(data, BIG, 512)
    assert (result.status, result.reason) == ("ok", "")
    assert (result.format, result.mode) == (expected_format, "RGB")
    assert (result.width, result.height, result.frames, result.orientation) == (640, 560, 1, 1)
    assert result.bytes == len(data)
    assert len(result.sha256) == 64
    for value in (result.phash, result.dhash):
        assert len(value) == 16 and set(value) <= HEX16
    assert result.phash != result.dhash


def test_same_pixels_same_hashes_across_lossless_formats():
    pixels = procedural_image(2, 600, 520)
    png = inspect_bytes(encode(pixels, "png"), BIG, 512)
    tiff = inspect_bytes(save(Image.fromarray(pixels), "TIFF"), BIG, 512)
    assert (png.phash, png.dhash) == (tiff.phash, tiff.dhash)
    assert png.sha256 != tiff.sha256


# -- EXIF orientation -------------------------------------------------------

@pytest.mark.parametrize("orientation", range(2, 9))
def test_jpeg_orientation_size_and_pixels(orientation):
    base = Image.fromarray(asymmetric())
    upright = save(base, "JPEG", quality=95)
    data = save(base, "JPEG", quality=95, exif=with_orientation(orientation))
    result = inspect_bytes(data, BIG, 16)
    assert result.status == "ok" and result.orientation == orientation
    expected_size = (60, 80) if orientation >= 5 else (80, 60)
    assert (result.width, result.height) == expected_size
    # Same entropy-coded data, so the oriented pixels are exactly a transposition.
    img = decode.open_header(data, "jpeg")
    assert decode.exif_orientation(img) == orientation
    oriented = decode_rgb(data, "jpeg")
    assert np.array_equal(oriented, UPRIGHT[orientation](decode_rgb(upright, "jpeg")))
    assert oriented.shape[:2] == (result.height, result.width)


@pytest.mark.parametrize("fmt, options", [("PNG", {}), ("TIFF", {}),
                                          ("WEBP", {"lossless": True})],
                         ids=["png", "tiff", "webp"])
@pytest.mark.parametrize("orientation", [2, 3, 5, 6, 7, 8])
def test_lossless_orientation_applied_exactly_once(fmt, options, orientation):
    """Pillow's TIFF reader orients on load by itself: irdata must not do it again."""
    base = asymmetric()
    expected = np.ascontiguousarray(UPRIGHT[orientation](base))
    data = save(Image.fromarray(base), fmt, exif=with_orientation(orientation), **options)
    assert np.array_equal(decode_rgb(data, fmt.lower()), expected)
    result = inspect_bytes(data, BIG, 16)
    reference = inspect_bytes(save(Image.fromarray(expected), fmt, **options), BIG, 16)
    assert result.orientation == orientation
    assert (result.width, result.height) == (expected.shape[1], expected.shape[0])
    assert (result.phash, result.dhash) == (reference.phash, reference.dhash)


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    chunks, pos = [], 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunks.append((kind, data[pos:pos + 12 + length]))
        pos += 12 + length
    return chunks


def test_png_exif_chunk_after_pixel_data():
    base = asymmetric()
    data = save(Image.fromarray(base), "PNG", exif=with_orientation(6))
    chunks = _png_chunks(data)
    exif = [raw for kind, raw in chunks if kind == b"eXIf"]
    rest = [raw for kind, raw in chunks if kind not in (b"eXIf", b"IEND")]
    assert len(exif) == 1
    late = data[:8] + b"".join(rest) + exif[0] + chunks[-1][1]
    result = inspect_bytes(late, BIG, 16)
    reference = inspect_bytes(save(Image.fromarray(np.rot90(base, -1).copy()), "PNG"), BIG, 16)
    assert (result.status, result.orientation, result.width, result.height) == ("ok", 6, 60, 80)
    assert result.phash == reference.phash


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data")
def test_corrupt_exif_means_no_orientation():
    data = save(Image.fromarray(asymmetric()), "JPEG")
    broken = data[:2] + b"\xff\xe1" + struct.pack(">H", 20) + b"Exif\x00\x00MM\x00*garbag" + data[2:]
    result = inspect_bytes(broken, BIG, 16)
    assert (result.status, result.orientation, result.width, result.height) == ("ok", 1, 80, 60)


# -- normalisation to 8-bit RGB ---------------------------------------------

def test_cmyk_jpeg():
    pixels = procedural_image(3, 600, 520)
    data = save(Image.fromarray(pixels).convert("CMYK"), "JPEG", quality=95)
    result = inspect_bytes(data, BIG, 512)
    assert (result.status, result.mode, result.width, result.height) == ("ok", "CMYK", 600, 520)
    rgb = decode_rgb(data, "jpeg")
    assert rgb.shape == (520, 600, 3) and rgb.dtype == np.uint8
    assert np.abs(rgb.astype(int) - pixels).mean() < 6


def test_sixteen_bit_grey_keeps_the_high_byte():
    values = (np.arange(40 * 50, dtype=np.uint32).reshape(40, 50) * 31 % 65536).astype(np.uint16)
    data = save(Image.fromarray(values), "PNG")
    result = inspect_bytes(data, BIG, 16)
    assert (result.status, result.mode) == ("ok", "I;16")
    rgb = decode_rgb(data, "png")
    expected = (values >> 8).astype(np.uint8)
    assert rgb.dtype == np.uint8
    for channel in range(3):
        assert np.array_equal(rgb[..., channel], expected)


def test_palette_transparency_over_white():
    indices = np.zeros((20, 30), dtype=np.uint8)
    indices[:, 15:] = 1
    img = Image.fromarray(indices, "P")
    img.putpalette([10, 20, 30, 200, 10, 30] + [0] * 762)
    data = save(img, "PNG", transparency=0)
    result = inspect_bytes(data, BIG, 16)
    assert (result.status, result.mode) == ("ok", "P")
    rgb = decode_rgb(data, "png")
    assert rgb[0, 0].tolist() == [255, 255, 255]  # index 0 is fully transparent
    assert rgb[0, 29].tolist() == [200, 10, 30]


def test_rgba_composited_over_white():
    rgba = np.zeros((20, 30, 4), dtype=np.uint8)
    rgba[..., :3] = (100, 0, 250)
    rgba[:, :10, 3] = 0  # transparent
    rgba[:, 10:20, 3] = 255  # opaque
    rgba[:, 20:, 3] = 128  # half
    data = save(Image.fromarray(rgba, "RGBA"), "PNG")
    assert inspect_bytes(data, BIG, 16).mode == "RGBA"
    rgb = decode_rgb(data, "png")
    assert rgb[5, 5].tolist() == [255, 255, 255]
    assert rgb[5, 15].tolist() == [100, 0, 250]
    # round((c * 128 + 255 * 127) / 255)
    assert rgb[5, 25].tolist() == [177, 127, 252]


def test_grey_alpha_composited_over_white():
    la = np.zeros((20, 30, 2), dtype=np.uint8)
    la[..., 0] = 40
    la[:, 15:, 1] = 255
    data = save(Image.fromarray(la, "LA"), "PNG")
    result = inspect_bytes(data, BIG, 16)
    assert (result.status, result.mode) == ("ok", "LA")
    rgb = decode_rgb(data, "png")
    assert rgb[0, 0].tolist() == [255, 255, 255]
    assert rgb[0, 20].tolist() == [40, 40, 40]


# -- multi-frame and other formats ------------------------------------------

def test_animated_gif_uses_first_frame():
    first, second = procedural_image(4, 300, 200), procedural_image(5, 300, 200)
    frames = [Image.fromarray(p).convert("P") for p in (first, second)]
    animated = save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    result = inspect_bytes(animated, BIG, 100)
    assert (result.status, result.format, result.frames) == ("ok", "gif", 2)
    assert (result.width, result.height) == (300, 200)
    only_first = inspect_bytes(save(frames[0], "GIF"), BIG, 100)
    only_second = inspect_bytes(save(frames[1], "GIF"), BIG, 100)
    assert result.phash == only_first.phash
    assert result.phash != only_second.phash


def test_multipage_tiff_uses_first_page():
    first, second = procedural_image(6, 320, 240), procedural_image(7, 320, 240)
    data = save(Image.fromarray(first), "TIFF", save_all=True,
                append_images=[Image.fromarray(second)])
    result = inspect_bytes(data, BIG, 100)
    assert (result.status, result.format, result.frames) == ("ok", "tiff", 2)
    assert result.phash == inspect_bytes(encode(first, "png"), BIG, 100).phash
    assert np.array_equal(decode_rgb(data, "tiff"), first)


def test_webp():
    pixels = procedural_image(8, 520, 530)
    data = save(Image.fromarray(pixels), "WEBP", quality=90)
    result = inspect_bytes(data, BIG, 512)
    assert (result.status, result.format, result.width, result.height) == ("ok", "webp", 520, 530)


def test_jpeg_with_trailing_garbage_is_fine():
    data = encode(procedural_image(9, 600, 520), "jpg")
    clean = inspect_bytes(data, BIG, 512)
    padded = inspect_bytes(data + b"\x00garbage after EOI" * 50, BIG, 512)
    assert padded.status == "ok"
    assert padded.phash == clean.phash
    assert padded.sha256 != clean.sha256


# -- drop reasons -----------------------------------------------------------

@pytest.mark.parametrize("fmt", ["jpg", "png"])
def test_truncated(fmt):
    data = encode(procedural_image(10, 600, 520), fmt)
    result = inspect_bytes(data[: len(data) // 2], BIG, 512)
    assert (result.status, result.reason) == ("dropped", "truncated")
    assert result.bytes == len(data) // 2
    assert result.phash == ""


@pytest.mark.parametrize("data, reason", [
    (b"", "empty"),
    (b"<!DOCTYPE html><html><body>Not found</body></html>", "html"),
    (b"\xef\xbb\xbf  \n<html lang='en'>", "html"),
    (np.random.default_rng(3).bytes(4096), "not_an_image"),
    (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00", "unsupported_format"),
], ids=["empty", "html", "html-bom", "random", "heic"])
def test_not_an_image(data, reason):
    result = inspect_bytes(data, BIG, 512)
    assert (result.status, result.reason) == ("dropped", reason)
    assert result.sha256 and result.bytes == len(data)
    assert result.width is None and result.format == ""


def test_too_small_reports_its_size():
    result = inspect_bytes(encode(procedural_image(11, 700, 300), "jpg"), BIG, 512)
    assert (result.status, result.reason) == ("dropped", "too_small")
    assert (result.width, result.height) == (700, 300)
    assert result.detail == "short side 300 < 512"
    assert result.phash == ""


@pytest.mark.parametrize("data", [bomb_png(30000, 30000), bomb_jpeg(30000, 30000)],
                         ids=["png", "jpeg"])
def test_decompression_bomb_is_refused_without_decoding(data, monkeypatch):
    loads = []
    original = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load",
                        lambda self: loads.append(self.size) or original(self))
    started = time.perf_counter()
    result = inspect_bytes(data, 100_000_000, 512)
    assert time.perf_counter() - started < 1.0
    assert (result.status, result.reason) == ("dropped", "decompression_bomb")
    assert result.detail == "30000x30000 = 900000000 pixels > 100000000"
    assert (result.width, result.height) == (30000, 30000)
    assert loads == []


def test_bomb_limit_is_width_times_height():
    data = bomb_png(1000, 600)
    assert inspect_bytes(data, 600_000, 16).reason != "decompression_bomb"
    assert inspect_bytes(data, 599_999, 16).reason == "decompression_bomb"


# -- pHash stability --------------------------------------------------------

def test_phash_near_duplicate_is_close_and_different_images_are_far():
    pixels = procedural_image(20)
    original = inspect_bytes(encode(pixels, "jpg"), BIG, 256)
    copy = inspect_bytes(near_duplicate(pixels, 0.5, 70), BIG, 256)
    other = inspect_bytes(encode(procedural_image(21), "jpg"), BIG, 256)
    assert original.status == copy.status == other.status == "ok"
    assert (copy.width, copy.height) == (768, 512)
    assert hamming(original.phash, copy.phash) <= 6
    assert hamming(original.phash, other.phash) >= 16


# -- sniff ------------------------------------------------------------------

@pytest.mark.parametrize("head, expected", [
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", ("jpeg", "")),
    (b"\x89PNG\r\n\x1a\n\x00\x00", ("png", "")),
    (b"RIFF\x10\x00\x00\x00WEBPVP8 ", ("webp", "")),
    (b"II*\x00\x08\x00\x00\x00", ("tiff", "")),
    (b"MM\x00*\x00\x00\x00\x08", ("tiff", "")),
    (b"BM" + b"\x00" * 60, ("bmp", "")),
    (b"BM short", ("", "not_an_image")),
    (b"GIF87a\x01\x00", ("gif", "")),
    (b"GIF89a\x01\x00", ("gif", "")),
    (b"\x00\x00\x00\x1cftypavif", ("", "unsupported_format")),
    (b"RIFF\x10\x00\x00\x00WAVEfmt ", ("", "not_an_image")),
    (b"  <svg xmlns='http://www.w3.org/2000/svg'>", ("", "html")),
    (b'{"error": "not found"}', ("", "html")),
    (b"", ("", "empty")),
    (b"JFIF\xff\xd8\xff", ("", "not_an_image")),
])
def test_sniff(head, expected):
    assert sniff(head) == expected


def test_sniff_reads_magic_not_names():
    png = encode(procedural_image(13, 64, 64), "png")
    assert sniff(png) == ("png", "")
    assert inspect_bytes(png, BIG, 16).format == "png"


@pytest.mark.parametrize("mode, progressive, orientation", [
    ("RGB", False, 1), ("RGB", True, 1), ("L", False, 1), ("RGB", False, 6)])
def test_opencv_jpeg_decode_equals_pillow(mode, progressive, orientation):
    pixels = procedural_image(3, 300, 200)
    image = Image.fromarray(pixels).convert(mode)
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=90, progressive=progressive, exif=exif.tobytes())
    data = buf.getvalue()
    header = decode.open_header(data, "jpeg")
    fast = decode.opencv_jpeg(data, header, "jpeg")
    assert fast is not None
    pillow = decode.to_rgb8(decode.load(decode.open_header(data, "jpeg")))
    assert np.array_equal(fast, pillow)
    assert decode.decode_rgb(data, "jpeg").shape[:2] == ((300, 200) if orientation == 6
                                                         else (200, 300))


def test_truncated_jpeg_falls_back_to_pillow_and_is_named():
    data = encode(procedural_image(2, 640, 600), "jpg", 92)
    cut = data[:len(data) // 2]
    assert decode.opencv_jpeg(cut, decode.open_header(cut, "jpeg"), "jpeg") is None
    found = inspect_bytes(cut, 300_000_000, 512)
    assert (found.status, found.reason) == ("dropped", "truncated")
