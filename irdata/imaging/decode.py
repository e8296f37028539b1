"""Decoding rules shared by every stage: header checks, EXIF orientation, and the
normalisation of any Pillow mode to 8-bit RGB (ARCHITECTURE.md): first frame only;
16/32-bit integers keep their high byte, floats are clipped and rounded; alpha is
composited over white; other modes use Pillow's RGB conversion; ICC profiles are not
applied; EXIF orientation 2-8 is applied once, after normalisation. YCbCr and grey
JPEGs go through OpenCV (Pillow's libjpeg-turbo pixels, straight into an array, GIL
released); what OpenCV refuses goes to Pillow, which names the problem.
"""

from __future__ import annotations

import io
import warnings

import cv2
import numpy as np
from PIL import Image

from irdata.errors import describe
from irdata.imaging.sniff import pillow_format

# irdata checks width x height itself (inspect.max_pixels) before any decode.
Image.MAX_IMAGE_PIXELS = None
# Hostile files are expected; their problems become drop reasons, not log noise.
warnings.filterwarnings("ignore", message="Corrupt EXIF data", category=UserWarning)
warnings.filterwarnings("ignore", message=".*(Truncated File Read|Possibly corrupt EXIF)",
                        category=UserWarning)

_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}


class DecodeError(Exception):
    """The bytes could not be decoded; `reason` is truncated or decode_error."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def _decode_error(exc: Exception) -> DecodeError:
    text = describe(exc)
    truncated = "truncat" in text.lower() or isinstance(exc, EOFError)
    reason = "truncated" if truncated else "decode_error"
    return DecodeError(reason, text)


def open_header(data: bytes, fmt: str) -> Image.Image:
    """Open lazily with the one Pillow plugin matching the sniffed format."""
    try:
        return Image.open(io.BytesIO(data), formats=[pillow_format(fmt)])
    except Exception as exc:
        raise _decode_error(exc) from None


def exif_orientation(img: Image.Image) -> int:
    """EXIF orientation 1-8, 1 when absent or unreadable; metadata only (Pillow's PNG
    `getexif` would decode the image). After `load` it is what is still to apply: Pillow's
    TIFF reader applies it itself, and a PNG's eXIf chunk after the pixels is seen then."""
    if img.format == "PNG" and "exif" not in img.info:
        return 1
    try:
        value = int(img.getexif().get(0x0112, 1))
    except Exception:
        return 1
    return value if 1 <= value <= 8 else 1


def stored_size(img: Image.Image) -> tuple[int, int]:
    """(width, height) before orientation (TIFF: from its tags, as Pillow reports it oriented)."""
    if img.format == "TIFF":
        tags = img.tag_v2
        return int(tags.get(256, img.size[0])), int(tags.get(257, img.size[1]))
    return img.size


def oriented_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """(width, height) after applying the EXIF orientation."""
    width, height = size
    return (height, width) if orientation >= 5 else (width, height)


def frame_count(img: Image.Image) -> int:
    return int(getattr(img, "n_frames", 1) or 1)


def load(img: Image.Image) -> Image.Image:
    """Decode the pixels (first frame), mapping failures to DecodeError."""
    try:
        img.load()
    except Exception as exc:
        raise _decode_error(exc) from None
    return img


COMPOSITE_ROWS = 256  # rows per block: temporaries stay small on a 300 MP image


def _composite_over_white(rgba: np.ndarray) -> np.ndarray:
    """round((c * a + 255 * (255 - a)) / 255) in uint16, COMPOSITE_ROWS rows at a time."""
    out = np.empty(rgba.shape[:2] + (3,), np.uint8)
    for top in range(0, rgba.shape[0], COMPOSITE_ROWS):
        block = rgba[top:top + COMPOSITE_ROWS]
        alpha = block[..., 3:4].astype(np.uint16)
        value = block[..., :3].astype(np.uint16) * alpha
        value += (255 - alpha) * 255 + 127
        out[top:top + COMPOSITE_ROWS] = value // 255
    return out


def to_rgb8(img: Image.Image) -> np.ndarray:
    """Any decoded Pillow image as an HxWx3 uint8 array, by the module's rule."""
    mode = img.mode
    if mode == "RGB":
        return np.asarray(img)
    if mode.startswith("I;16") or mode == "I":
        grey = np.clip(np.asarray(img).astype(np.int64) >> 8, 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if mode == "F":
        grey = np.clip(np.rint(np.asarray(img)), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if mode == "P" and "transparency" in img.info:
        img, mode = img.convert("RGBA"), "RGBA"
    if mode in _ALPHA_MODES:
        return _composite_over_white(np.asarray(img.convert("RGBA")))
    return np.asarray(img.convert("RGB"))


def orient(pixels: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation to an HxWxC array."""
    if orientation == 1:
        return pixels
    image = Image.fromarray(pixels).transpose(_TRANSPOSE[orientation])
    return np.asarray(image)


# libjpeg-turbo writes RGB itself where OpenCV can ask it to (>= 4.10), saving the
# BGR-to-RGB conversion; the pixels are the same.
_RGB_DECODE = getattr(cv2, "IMREAD_COLOR_RGB", None)


def _imdecode_rgb(data: bytes, flags: int = 0) -> np.ndarray | None:
    """cv2.imdecode to HxWx3 RGB (from BGR where OpenCV cannot ask for RGB); None if it fails."""
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), (_RGB_DECODE or cv2.IMREAD_COLOR)
                           | flags)
    if decoded is None or _RGB_DECODE is not None:
        return decoded
    return cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB, dst=decoded)


def opencv_jpeg(data: bytes, img: Image.Image, fmt: str) -> np.ndarray | None:
    """Unoriented RGB of a YCbCr or grey JPEG via OpenCV; None for other files or refusals."""
    if fmt != "jpeg" or img.mode not in ("RGB", "L"):
        return None
    decoded = _imdecode_rgb(data, cv2.IMREAD_IGNORE_ORIENTATION)
    if decoded is None or decoded.shape[:2] != (img.size[1], img.size[0]):
        return None
    return decoded


def pixels_of(data: bytes, img: Image.Image, fmt: str) -> np.ndarray:
    """The full decode of an opened header as HxWx3 uint8 RGB by the module's rule,
    not yet oriented (read `exif_orientation(img)` afterwards: loading may apply it)."""
    rgb = opencv_jpeg(data, img, fmt)
    return rgb if rgb is not None else to_rgb8(load(img))


def decode_rgb(data: bytes, fmt: str) -> np.ndarray:
    """Full decode to oriented HxWx3 uint8 RGB (inspection and the patch stage); orientation
    is read after loading, so what Pillow applied itself (TIFF) is not applied twice."""
    img = open_header(data, fmt)
    rgb = pixels_of(data, img, fmt)
    return orient(rgb, exif_orientation(img))


def decode_png(data: bytes) -> np.ndarray:
    """HxWx3 uint8 RGB of a stored patch PNG; ValueError when OpenCV cannot decode it."""
    decoded = _imdecode_rgb(data)
    if decoded is None:
        raise ValueError("not a decodable PNG")
    return decoded
