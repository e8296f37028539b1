"""Magic bytes decide what a file is; names and Content-Type never do."""

from __future__ import annotations

# (format, extension used in shards, Pillow format name)
FORMATS = {
    "jpeg": ("jpg", "JPEG"),
    "png": ("png", "PNG"),
    "webp": ("webp", "WEBP"),
    "tiff": ("tif", "TIFF"),
    "bmp": ("bmp", "BMP"),
    "gif": ("gif", "GIF"),
}
_HTML_PREFIXES = (b"<!doctype", b"<html", b"<head", b"<body", b"<?xml", b"<svg", b"<!--",
                  b"<meta", b"<title", b"<script", b"<div", b"<p>", b"{")
_ISO_BMFF_UNSUPPORTED = (b"heic", b"heix", b"mif1", b"msf1", b"avif", b"avis", b"hevc")


def sniff(data: bytes) -> tuple[str, str]:
    """(format, "") or ("", reason), reason one of empty, html, unsupported_format, not_an_image."""
    if not data:
        return "", "empty"
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg", ""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png", ""
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp", ""
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff", ""
    if head[:2] == b"BM" and len(data) > 26:
        return "bmp", ""
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif", ""
    if head[4:8] == b"ftyp" and head[8:12] in _ISO_BMFF_UNSUPPORTED:
        return "", "unsupported_format"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(_HTML_PREFIXES):
        return "", "html"
    return "", "not_an_image"


def extension(fmt: str) -> str:
    """Shard member extension for a sniffed format."""
    return FORMATS[fmt][0]


def pillow_format(fmt: str) -> str:
    """Pillow's plugin name for a sniffed format."""
    return FORMATS[fmt][1]
