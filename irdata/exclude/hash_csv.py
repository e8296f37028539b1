"""Precomputed hashes as CSV: one row per evaluation image, for sets whose images
cannot be shared or read. Columns: `file` (required), `sha256` (of the file's
bytes), `width`, `height` and `pixels_sha256` (of the pixels as irdata decodes
them), `phash` and `dhash` (64-bit, 16 hex characters, as imagehash computes them).
Each row needs sha256, pixels_sha256 or phash with dhash. Such rows match exact
copies and near copies; a crop is found only from features (`irdata exclusions
build` writes them)."""

from __future__ import annotations

import csv
import string

import pyarrow as pa

from irdata.errors import ExclusionError

COLUMNS = ("file", "sha256", "width", "height", "pixels_sha256", "phash", "dhash")
HEX_LENGTH = {"sha256": 64, "pixels_sha256": 64, "phash": 16, "dhash": 16}


def read(path: str, name: str, schema: pa.Schema) -> pa.Table:
    """The rows of a CSV hash list as fingerprint rows of `schema` (no features)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = [c.strip().lower() for c in reader.fieldnames or []]
            _check_header(path, header)
            reader.fieldnames = header
            rows = [_row(path, line, name, raw) for line, raw in enumerate(reader, 2)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ExclusionError(f"exclusion hash list {path}: cannot be read as CSV "
                            f"({exc})") from None
    if not rows:
        raise ExclusionError(f"exclusion hash list {path}: no rows")
    return pa.Table.from_pylist(sorted(rows, key=lambda r: r["file"]), schema=schema)


def _check_header(path: str, header: list[str]) -> None:
    if "file" not in header:
        raise ExclusionError(f"exclusion hash list {path}: no 'file' column (columns: "
                            f"{', '.join(COLUMNS)})")
    unknown = [c for c in header if c not in COLUMNS]
    if unknown:
        raise ExclusionError(f"exclusion hash list {path}: unknown column {unknown[0]!r} "
                            f"(columns: {', '.join(COLUMNS)})")


def _row(path: str, line: int, name: str, raw: dict) -> dict:
    """One fingerprint row; ExclusionError naming the line when a value is unusable."""
    where = f"exclusion hash list {path}, line {line}"
    value = {k: (raw.get(k) or "").strip().lower() for k in COLUMNS}
    value["file"] = (raw.get("file") or "").strip()
    if not value["file"]:
        raise ExclusionError(f"{where}: empty 'file'")
    for column, length in HEX_LENGTH.items():
        text = value[column]
        if text and (len(text) != length or set(text) - set(string.hexdigits)):
            raise ExclusionError(f"{where}: {column} {text!r} is not {length} hex characters")
    if bool(value["phash"]) != bool(value["dhash"]):
        raise ExclusionError(f"{where}: phash and dhash go together (near copies need both)")
    size = _size(where, value)
    if value["pixels_sha256"] and size is None:
        raise ExclusionError(f"{where}: pixels_sha256 needs width and height")
    if not (value["sha256"] or value["pixels_sha256"] or value["phash"]):
        raise ExclusionError(f"{where}: no hash (sha256, pixels_sha256 or phash + dhash)")
    width, height = size or (None, None)
    flips = 4 if value["phash"] else 0  # one hash stands for the four flips the index expects
    return {"set": name, "file": value["file"], "width": width, "height": height,
            "sha256": value["sha256"] or None, "pixels_sha256": value["pixels_sha256"] or None,
            "phashes": [value["phash"]] * flips, "dhashes": [value["dhash"]] * flips,
            "work_width": None, "work_height": None, "points": b"", "descriptors": b"",
            "mirror_points": b"", "mirror_descriptors": b"", "thumbnail": None}


def _size(where: str, value: dict) -> tuple[int, int] | None:
    if not value["width"] and not value["height"]:
        return None
    try:
        width, height = int(value["width"]), int(value["height"])
    except ValueError:
        raise ExclusionError(f"{where}: width and height must be whole numbers, got "
                            f"{value['width']!r} x {value['height']!r}") from None
    if width < 1 or height < 1:
        raise ExclusionError(f"{where}: width and height must be positive")
    return width, height
