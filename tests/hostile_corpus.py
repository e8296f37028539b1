"""A corpus of hostile image files, generated in code (no binary blobs).

Each `Case` is one file: its bytes, the name it is served or stored under, and
what irdata must make of it: either processed (`reason == ""`), with the upright
RGB pixels it must decode to (`truth`, compared exactly or within `tolerance`
mean absolute error for lossy formats), or dropped with one specific `reason`.

Sizes assume the corpus settings in `CORPUS_SETTINGS`: images are 160x120
(short side >= min_side 64), anything claiming more than 10 MP is a bomb.
"""

from __future__ import annotations

import functools
import io
import struct
import zipfile
import zlib
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from irdata.demo.synth import encode, procedural_image

WIDTH, HEIGHT = 160, 120
MAX_PIXELS = 10_000_000
MIN_SIDE = 64
# Settings for building the corpus: no quality gates or dedupe (the corpus holds
# the same picture many times on purpose), 40 px patches tiling 160x120 exactly,
# every patch kept (no per-cell gate) so each one can be compared with the truth.
CORPUS_SETTINGS = {
    "inspect": {"max_pixels": MAX_PIXELS, "min_side": MIN_SIDE},
    "quality": {"enabled": False},
    "dedupe": {"enabled": False},
    "patch": {"size": 40, "flat_block": 8, "max_flat_fraction": 1.0, "max_clipped": 1.0,
              "max_crushed": 1.0, "max_noise": 1000.0, "max_blockiness": 1000.0,
              "min_sharpness": -1000.0},
}


@dataclass(frozen=True)
class Case:
    name: str
    ext: str
    data: bytes
    reason: str = ""  # expected drop reason; "" means processed
    truth: np.ndarray | None = None  # upright HxWx3 uint8 the decode must give
    tolerance: float = 0.0  # allowed mean absolute error against truth (lossy formats)

    @property
    def filename(self) -> str:
        return f"{self.name}.{self.ext}"


def save(img: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **options)
    return buf.getvalue()


def with_orientation(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


# What each EXIF orientation does to the stored pixels to show them upright.
UPRIGHT = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, -1),  # 90 degrees clockwise
    7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
    8: lambda a: np.rot90(a, 1),
}
# The inverse: what must be stored so that orientation n shows `upright`.
_STORED = {2: UPRIGHT[2], 3: UPRIGHT[3], 4: UPRIGHT[4], 5: UPRIGHT[5],
           6: UPRIGHT[8], 7: UPRIGHT[7], 8: UPRIGHT[6]}


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def bomb_png(width: int, height: int) -> bytes:
    """A valid PNG header claiming width x height RGB, with a few rows of data."""
    rows = zlib.compress(b"\x00" * (1 + 3 * min(width, 4096)) * 8)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", rows)
            + png_chunk(b"IEND", b""))


def bomb_jpeg(width: int, height: int) -> bytes:
    """A real small JPEG whose frame header is patched to claim width x height."""
    data = bytearray(encode(procedural_image(12, 64, 64), "jpg"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _strip_png(width: int, height: int) -> bytes:
    """A grey 8-bit PNG of width x height (stripes), written row by row."""
    row_bytes = (np.arange(width, dtype=np.uint32) % 251).astype(np.uint8).tobytes()
    raw = b"".join(b"\x00" + row_bytes for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
            + png_chunk(b"IDAT", zlib.compress(raw, 9)) + png_chunk(b"IEND", b""))


def _ycck_jpeg(rgb: np.ndarray) -> bytes:
    """A 4-component Adobe JPEG with transform 2 (YCCK): Y, Cb, Cr of the picture
    and K = 0, so that it decodes back to the picture."""
    ycc = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)[..., [0, 2, 1]]
    four = np.dstack([ycc, np.zeros(rgb.shape[:2], np.uint8)])
    data = bytearray(save(Image.frombytes("CMYK", (rgb.shape[1], rgb.shape[0]),
                                          four.tobytes()), "JPEG", quality=95))
    adobe = data.index(b"\xff\xee\x00\x0eAdobe")
    data[adobe + 15] = 2  # Adobe APP14 transform flag: 2 = YCCK
    return bytes(data)


def _corrupt_icc_png(rgb: np.ndarray) -> bytes:
    """A PNG whose iCCP chunk holds a zlib stream that does not inflate."""
    data = save(Image.fromarray(rgb), "PNG")
    iccp = png_chunk(b"iCCP", b"sRGB\x00\x00" + b"\x78\x9c not zlib at all" * 4)
    return data[:33] + iccp + data[33:]  # right after IHDR


def _zip_bytes(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, payload in members.items():
            zf.writestr(name, payload)
    return buf.getvalue()


def _set_gif_screen(data: bytes, width: int, height: int) -> bytes:
    """Patch a GIF's logical screen and first image descriptor to width x height."""
    out = bytearray(data)
    out[6:10] = struct.pack("<HH", width, height)
    desc = out.index(b"\x2c", 13)  # image separator of the first frame
    out[desc + 5:desc + 9] = struct.pack("<HH", width, height)
    return bytes(out)


@functools.cache
def cases() -> tuple[Case, ...]:
    """Every case of the corpus (deterministic; built once per process)."""
    rgb = procedural_image(801, WIDTH, HEIGHT)
    other = procedural_image(802, WIDTH, HEIGHT)
    pil = Image.fromarray(rgb)
    jpeg = save(pil, "JPEG", quality=95, subsampling=0)
    png = save(pil, "PNG")
    out = [
        Case("plain_jpeg", "jpg", jpeg, truth=rgb, tolerance=4),
        Case("progressive_jpeg", "jpg",
             save(pil, "JPEG", quality=95, subsampling=0, progressive=True),
             truth=rgb, tolerance=4),
        Case("plain_png", "png", png, truth=rgb),
        Case("truncated_jpeg", "jpg", jpeg[: len(jpeg) // 2], reason="truncated"),
        Case("truncated_png", "png", png[: len(png) // 2], reason="truncated"),
        Case("zero_bytes", "jpg", b"", reason="empty"),
        Case("html_as_jpg", "jpg",
             b"<!DOCTYPE html>\n<html><head><title>404</title></head><body>gone</body></html>",
             reason="html"),
        Case("json_error_as_png", "png", b'{"error": "rate limited"}', reason="html"),
        Case("random_bytes", "jpg", np.random.default_rng(5).bytes(3000), reason="not_an_image"),
        Case("heic_brand", "jpg", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\0" * 64,
             reason="unsupported_format"),
        Case("cmyk_jpeg", "jpg",
             save(pil.convert("CMYK"), "JPEG", quality=95, subsampling=0),
             truth=rgb, tolerance=4),
        Case("ycck_jpeg", "jpg", _ycck_jpeg(rgb), truth=rgb, tolerance=4),
        Case("grey_jpeg", "jpg", save(pil.convert("L"), "JPEG", quality=95),
             truth=np.repeat(np.asarray(pil.convert("L"))[..., None], 3, 2), tolerance=4),
    ]
    # 16-bit: the high byte is kept.
    rgb16 = (rgb.astype(np.uint16) << 8) | np.uint16(77)  # low bytes must be dropped
    out.append(Case("png_16bit_rgb", "png", cv2.imencode(".png", rgb16[..., ::-1])[1].tobytes(),
                    truth=rgb))
    grey16 = (rgb[..., 1].astype(np.uint16) << 8) | np.uint16(200)
    out.append(Case("png_16bit_grey", "png", save(Image.fromarray(grey16), "PNG"),
                    truth=np.repeat(rgb[..., 1:2], 3, 2)))
    # Transparency: composited over white.
    indices = (np.arange(WIDTH)[None, :] // 20 % 4 + np.zeros((HEIGHT, 1), int)).astype(np.uint8)
    palette = [(10, 20, 30), (200, 10, 30), (40, 220, 90), (0, 0, 255)]
    pal_img = Image.fromarray(indices, "P")
    pal_img.putpalette([c for colour in palette for c in colour] + [0] * (768 - 12))
    pal_truth = np.array(palette, np.uint8)[indices]
    pal_truth[indices == 0] = 255  # index 0 fully transparent
    out.append(Case("palette_transparency_png", "png", save(pal_img, "PNG", transparency=0),
                    truth=pal_truth))
    alpha = (np.arange(WIDTH, dtype=np.uint32)[None, :] * 255 // (WIDTH - 1)
             + np.zeros((HEIGHT, 1), np.uint32)).astype(np.uint8)
    grey = rgb[..., 0]
    la_truth = ((grey.astype(np.uint32) * alpha + 255 * (255 - alpha.astype(np.uint32)) + 127)
                // 255).astype(np.uint8)
    out.append(Case("grey_alpha_png", "png",
                    save(Image.fromarray(np.dstack([grey, alpha]), "LA"), "PNG"),
                    truth=np.repeat(la_truth[..., None], 3, 2)))
    rgba_truth = ((rgb.astype(np.uint32) * alpha[..., None]
                   + 255 * (255 - alpha[..., None].astype(np.uint32)) + 127) // 255
                  ).astype(np.uint8)
    out.append(Case("rgba_png", "png", save(Image.fromarray(np.dstack([rgb, alpha]), "RGBA"),
                                            "PNG"), truth=rgba_truth))
    # EXIF orientations 2-8: the stored pixels are turned so that the file shows `rgb`.
    for n in range(2, 9):
        stored = Image.fromarray(np.ascontiguousarray(_STORED[n](rgb)))
        out.append(Case(f"exif_orientation_{n}", "jpg",
                        save(stored, "JPEG", quality=95, subsampling=0,
                             exif=with_orientation(n)),
                        truth=rgb, tolerance=4))
    out.append(Case("exif_orientation_6_png", "png",
                    save(Image.fromarray(np.ascontiguousarray(_STORED[6](rgb))), "PNG",
                         exif=with_orientation(6)), truth=rgb))
    out += [
        Case("strip_1x100000", "png", _strip_png(1, 100_000), reason="too_small"),
        Case("strip_100000x1", "png", _strip_png(100_000, 1), reason="too_small"),
        Case("bomb_png", "png", bomb_png(30000, 30000), reason="decompression_bomb"),
        Case("bomb_jpeg", "jpg", bomb_jpeg(30000, 30000), reason="decompression_bomb"),
        Case("bomb_gif", "gif", _set_gif_screen(save(pil.convert("P"), "GIF"), 65535, 65535),
             reason="decompression_bomb"),
    ]
    # Multi-frame: the first frame is used.
    frames = [Image.fromarray(p).quantize(64, dither=Image.Dither.NONE) for p in (rgb, other)]
    out.append(Case("animated_gif", "gif",
                    save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=80,
                         loop=0), truth=np.asarray(frames[0].convert("RGB"))))
    out.append(Case("multipage_tiff", "tif",
                    save(pil, "TIFF", save_all=True, append_images=[Image.fromarray(other)]),
                    truth=rgb))
    out.append(Case("tiff_lzw", "tiff", save(pil, "TIFF", compression="tiff_lzw"), truth=rgb))
    out.append(Case("webp_lossless", "webp", save(pil, "WEBP", lossless=True), truth=rgb))
    # Lossy WebP is always 4:2:0: a larger error than the JPEGs (a flip is ~58).
    out.append(Case("webp_lossy", "webp", save(pil, "WEBP", quality=95), truth=rgb,
                    tolerance=12))
    out.append(Case("bmp", "bmp", save(pil, "BMP"), truth=rgb))
    # Broken metadata that must not matter: ICC profiles are never applied.
    out.append(Case("corrupt_icc_jpeg", "jpg",
                    save(pil, "JPEG", quality=95, subsampling=0,
                         icc_profile=b"\x00garbage ICC" * 40),
                    truth=rgb, tolerance=4))
    out.append(Case("corrupt_icc_png", "png", _corrupt_icc_png(rgb), truth=rgb))
    out.append(Case("trailing_garbage_jpeg", "jpg", jpeg + b"\x00garbage after EOI" * 200,
                    truth=rgb, tolerance=4))
    # Polyglots: what the magic bytes say wins; the rest is never parsed.
    out.append(Case("polyglot_jpeg_zip", "jpg",
                    jpeg + _zip_bytes({"payload.sh": b"#!/bin/sh\necho owned\n"}),
                    truth=rgb, tolerance=4))
    out.append(Case("polyglot_png_html", "png",
                    png + b"<html><script>alert(1)</script></html>", truth=rgb))
    out.append(Case("polyglot_zip_first", "jpg", _zip_bytes({"a.jpg": jpeg}),
                    reason="not_an_image"))
    out.append(Case("polyglot_html_first", "png",
                    b"<html><!-- " + png + b" --></html>", reason="html"))
    out.append(Case("too_small", "jpg", save(Image.fromarray(rgb[:40, :48]), "JPEG"),
                    reason="too_small"))
    bad_crc = bytearray(png)
    bad_crc[40] ^= 0xFF  # inside IDAT: the chunk CRC no longer matches
    out.append(Case("png_bad_crc", "png", bytes(bad_crc), reason="decode_error"))
    return tuple(out)


def case(name: str) -> Case:
    return next(c for c in cases() if c.name == name)


@functools.cache
def fuzz_seeds() -> tuple[bytes, ...]:
    """Small files in many formats, modes and compressions for the fuzzer to mutate:
    small, so that mutations often land in headers, tables and chunk structure."""
    rgb = cv2.resize(procedural_image(803, 96, 64), (24, 16), interpolation=cv2.INTER_AREA)
    pil = Image.fromarray(rgb)
    grey16 = Image.fromarray(rgb[..., 0].astype(np.uint16) << 8)
    modes = {"RGB": pil, "L": pil.convert("L"), "1": pil.convert("1"), "P": pil.convert("P"),
             "RGBA": pil.convert("RGBA"), "LA": pil.convert("LA"), "CMYK": pil.convert("CMYK"),
             "I;16": grey16, "F": pil.convert("F"), "I": pil.convert("I")}
    seeds = [save(pil, "JPEG", quality=q, progressive=p, exif=with_orientation(6))
             for q in (50, 95) for p in (False, True)]
    seeds.append(save(modes["CMYK"], "JPEG"))
    seeds.append(_ycck_jpeg(rgb))
    for mode in ("RGB", "L", "1", "P", "RGBA", "LA", "I;16"):
        seeds.append(save(modes[mode], "PNG", exif=with_orientation(3)))
    seeds.append(save(modes["P"], "PNG", transparency=0))
    for mode in ("RGB", "L", "1", "P", "RGBA", "CMYK", "I;16", "F", "I", "LA"):
        seeds.append(save(modes[mode], "TIFF"))
    for compression in ("tiff_lzw", "tiff_adobe_deflate", "packbits", "jpeg"):
        seeds.append(save(pil, "TIFF", compression=compression))
    seeds.append(save(pil, "TIFF", save_all=True, append_images=[modes["L"]]))
    seeds.append(save(modes["P"], "GIF", save_all=True, append_images=[modes["P"]],
                      transparency=0))
    seeds += [save(modes[m], "BMP") for m in ("RGB", "P", "1")]
    seeds += [save(pil, "WEBP", lossless=True), save(modes["RGBA"], "WEBP", quality=80),
              save(pil, "WEBP", save_all=True, append_images=[modes["L"].convert("RGB")])]
    return tuple(seeds)
