"""Exclusion sets: a folder, an archive or a hash list -> one fingerprint row per
evaluation image (`SCHEMA`); written as Parquet, so a set can be shared without
its images. Every problem is an `ExclusionError` naming the set and the file."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from irdata.errors import ExclusionError, describe
from irdata.exclude import fingerprint, hash_csv
from irdata.imaging import decode
from irdata.imaging.sniff import sniff
from irdata.quality import working
from irdata.sources.archives import archive_type, list_archive_items, read_members
from irdata.sources.folders import list_folder_items
from irdata.storage import Output

MAX_PIXELS = 300_000_000
MAX_MEMBER_BYTES = 256 * 1024 * 1024
FORMAT = "irdata.exclusions/2"
THUMB_SIDE = 160  # the JPEG thumbnail kept for reports
SCHEMA = pa.schema([
    ("set", pa.string()), ("file", pa.string()), ("width", pa.int32()),
    ("height", pa.int32()), ("sha256", pa.string()), ("pixels_sha256", pa.string()),
    ("phashes", pa.list_(pa.string())), ("dhashes", pa.list_(pa.string())),
    ("work_width", pa.int32()), ("work_height", pa.int32()),
    ("points", pa.binary()), ("descriptors", pa.binary()),
    ("mirror_points", pa.binary()), ("mirror_descriptors", pa.binary()),
    ("thumbnail", pa.binary()),  # a small JPEG for reports; null in lists built without
])


def _pixels(name: str, file: str, data: bytes) -> np.ndarray:
    """The image decoded by the build's rule (decompression bombs refused from the
    header); ExclusionError naming the file when it cannot be."""
    fmt, problem = sniff(data)
    try:
        if problem:
            raise decode.DecodeError(problem, f"magic bytes {data[:8]!r}")
        width, height = decode.stored_size(decode.open_header(data, fmt))
        if width * height > MAX_PIXELS:
            raise decode.DecodeError("decompression_bomb", f"{width}x{height} pixels")
        return decode.decode_rgb(data, fmt)
    except decode.DecodeError as err:
        reason = f"{err.reason}: {err.detail}"
    except Exception as exc:
        reason = f"decode_error: {describe(exc)}"
    raise ExclusionError(f"exclusion set {name!r}: {file}: not a usable image ({reason})")


def fingerprint_row(name: str, file: str, data: bytes) -> dict:
    """The fingerprint of one evaluation image: one decode, no quality figures."""
    pixels = _pixels(name, file, data)
    work = working.to_working(pixels)
    hashes = fingerprint.flip_hashes(work)
    xy, desc = fingerprint.features_at_scales(work)
    mirror_xy, mirror_desc = fingerprint.features_at_scales(fingerprint.flipped(work, "mirror"))
    return {"set": name, "file": file, "width": pixels.shape[1], "height": pixels.shape[0],
            "sha256": hashlib.sha256(data).hexdigest(),
            "pixels_sha256": fingerprint.pixels_sha256(pixels),
            "phashes": [h[1] for h in hashes], "dhashes": [h[2] for h in hashes],
            "work_width": work.shape[1], "work_height": work.shape[0],
            "points": xy.tobytes(), "descriptors": desc.tobytes(),
            "mirror_points": mirror_xy.tobytes(), "mirror_descriptors": mirror_desc.tobytes(),
            "thumbnail": _thumbnail(work)}


def _thumbnail(work: np.ndarray) -> bytes:
    scale = THUMB_SIDE / max(work.shape[:2])
    small = cv2.resize(work, (max(1, round(work.shape[1] * scale)),
                              max(1, round(work.shape[0] * scale))), interpolation=cv2.INTER_AREA)
    return cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR),
                        [cv2.IMWRITE_JPEG_QUALITY, 85])[1].tobytes()


def _images(spec: dict) -> Iterator[tuple[str, bytes]]:
    """(file name relative to the set, bytes) of every image of a folder or archive."""
    where = {"name": spec["name"], "license": ""}
    if spec["kind"] == "dir":
        for item in list_folder_items({**where, "dir": spec["path"]}):
            with open(item.locator, "rb") as fh:
                yield os.path.relpath(item.locator, spec["path"]), fh.read()
        return
    try:
        archive_type(spec["path"])
        members = [i.member for i in list_archive_items(where, spec["path"], spec["path"])]
        for member, data in read_members(spec["path"], spec["path"], set(members),
                                         MAX_MEMBER_BYTES):
            if isinstance(data, Exception):
                raise ExclusionError(f"exclusion set {spec['name']!r}: {member}: {data}")
            yield member, data
    except ExclusionError:
        raise
    except Exception as exc:
        raise ExclusionError(f"exclusion set {spec['name']!r}: cannot read archive "
                             f"{spec['path']}: {exc}") from None


def build_table(spec: dict) -> pa.Table:
    """The fingerprints of a folder or archive set (`spec`: name, kind, path), in
    file-name order; an empty set is an error."""
    rows = [fingerprint_row(spec["name"], file, data) for file, data in _images(spec)]
    if not rows:
        raise ExclusionError(f"exclusion set {spec['name']!r}: no images in {spec['path']}")
    rows.sort(key=lambda row: row["file"])
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def write_table(table: pa.Table, path: str, signature: str = "",
                out: Output | None = None) -> None:
    """Write a set's fingerprints atomically (marked with the format and `signature`)
    to the local file `path`, or to `path` inside `out`."""
    meta = {"irdata.format": FORMAT, "irdata.signature": signature}
    if out is None:
        folder, path = os.path.split(os.path.abspath(path))
        out = Output(folder)
    with out.atomic(path) as fh:
        pq.write_table(table.replace_schema_metadata(meta), fh)


def read_hash_list(path: str, name: str | None = None) -> pa.Table:
    """A hash list: the Parquet that `write_table` writes, or a CSV of precomputed
    hashes (`hash_csv`); `name` renames its set."""
    if path.lower().endswith(".csv"):
        return hash_csv.read(path, name or os.path.basename(path).split(".")[0], SCHEMA)
    return read_table(path, name)


def read_set(spec: dict) -> pa.Table:
    """The fingerprints of one set (`spec`: name, kind, path), however it is given."""
    if spec["kind"] == "hashes":
        return read_hash_list(spec["path"], spec["name"])
    return build_table(spec)


def read_table(path: str, name: str | None = None, columns: list[str] | None = None,
               fs=None) -> pa.Table:
    """A hash list written by `write_table` (only `columns`, when given), a local file
    or a path on the fsspec filesystem `fs`; `name` renames its set."""
    try:
        schema = pq.read_schema(path, filesystem=fs)
        table = pq.read_table(path, columns=columns, filesystem=fs)
    except Exception as exc:
        raise ExclusionError(f"exclusion hash list {path}: not a readable Parquet file "
                             f"({exc})") from None
    meta = schema.metadata or {}
    if meta.get(b"irdata.format") != FORMAT.encode() or not schema.equals(
            SCHEMA.with_metadata(schema.metadata)):
        raise ExclusionError(f"exclusion hash list {path}: not written by `irdata exclusions "
                             f"build` (format {FORMAT})")
    if name is not None:
        table = table.set_column(0, "set", pa.array([name] * len(table), pa.string()))
    return table


def signature(spec: dict, files: list[tuple] | None = None) -> str:
    """Changes when the set's files change or the matcher does. `files`: (name, size,
    version) of each, else read from the local path (sizes and times)."""
    parts = [FORMAT, str(fingerprint.FEATURES), str(fingerprint.SCALES), spec["name"],
             spec["kind"]]
    for name, size, version in sorted(_local_files(spec) if files is None else files):
        parts.append(f"{name}:{size}:{version}")
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _local_files(spec: dict) -> list[tuple]:
    paths = [spec["path"]]
    if spec["kind"] == "dir":
        paths = [os.path.join(folder, n) for folder, _, names in os.walk(spec["path"])
                 for n in sorted(names)]
    return [(path, os.stat(path).st_size, os.stat(path).st_mtime_ns) for path in paths]


def compile_set(spec: dict, out: Output, rel: str, sign: str | None = None,
                fetch=None) -> str:
    """OUT/`rel` (exclude/NAME.parquet) for one configured set, rebuilt only when its
    signature (`sign`, else `signature(spec)`) changed; `fetch(spec)` gives the spec
    with a local path, called only then. Returns `rel`."""
    sign = sign or signature(spec)
    if out.is_file(rel):
        meta = pq.read_schema(out.path(rel), filesystem=out.fs).metadata or {}
        if meta.get(b"irdata.signature") == sign.encode():
            return rel
    write_table(read_set(fetch(spec) if fetch else spec), rel, sign, out)
    return rel
