"""Output folder access through fsspec: a local folder or any fsspec URL (s3://, gs://,
...). A reader, or a resumed build, never sees half a file: on a local or other
renaming filesystem a file is written under a temporary name and renamed into
place; on an object store (no rename there) it is written under its own key in one
upload that the store makes visible only when complete, and abandoned on failure."""

from __future__ import annotations

import errno
import json
import os
import posixpath
import uuid
from contextlib import contextmanager

import fsspec

from irdata.errors import UsageError, describe

TMP_MARK = ".tmp-"
_FULL = (errno.ENOSPC, errno.EDQUOT)  # named with the file being written when they stop it
# Stores whose uploads appear whole or not at all (a single PUT, or a multipart
# upload completed at close) and whose files can abandon an upload (`discard`).
OBJECT_STORES = {"s3", "s3a", "gs", "gcs", "abfs", "az"}
UPLOAD_PART = 16 * 2**20  # S3 parts: 5 MiB at least


def is_local(url: str) -> bool:
    return "://" not in url or url.startswith("file://")


def protocol(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else "file"


def is_store_url(location: str) -> bool:
    """An fsspec URL other than a local file or http(s): s3://, gs://, memory://, ..."""
    return "://" in location and protocol(location) not in ("file", "http", "https")


def open_input(location: str, options: dict | None = None):
    """A local file or a store URL opened for binary reading (a context manager)."""
    if not is_store_url(location):
        return open(location, "rb")
    fs, path = filesystem(location, options)
    return fs.open(path, "rb")


def store_url(fs, path: str) -> str:
    """The URL of a path that a store's filesystem listed (it drops the protocol)."""
    name = fs.protocol if isinstance(fs.protocol, str) else fs.protocol[0]
    return f"{name}://{path}"


def filesystem(url: str, options: dict | None = None):
    """(fsspec filesystem, path) of `url` with the storage options (endpoint,
    credentials, ...; none for local paths). Object stores list without a cache:
    other processes write there."""
    if is_local(url):
        return fsspec.core.url_to_fs(url)
    settings = dict(options or {})
    if protocol(url) in OBJECT_STORES:
        settings.setdefault("use_listings_cache", False)
    if protocol(url) in ("s3", "s3a"):
        # parts go up while a partition is still being cut (its other threads keep
        # working), not all at close; the upload still completes only at close
        settings.setdefault("default_block_size", UPLOAD_PART)
    return fsspec.core.url_to_fs(url, **settings)


class OutputError(UsageError):
    """An output that cannot be used: no bucket, no access, no endpoint, read-only."""


def _storage_problem(exc: BaseException) -> str:
    """What a storage exception means, in words (the exception's own text kept)."""
    text = describe(exc)
    if isinstance(exc, FileNotFoundError):
        return f"no such bucket or folder ({text})"
    if isinstance(exc, PermissionError):
        return f"access denied: check the credentials and the bucket's policy ({text})"
    if "connect" in text.lower() or "endpoint" in text.lower():
        return f"the storage endpoint cannot be reached ({text})"
    return text


class Output:
    """The build's output root (a local folder or any fsspec URL); `options` are the
    storage options of a remote root (the pipeline's `storage_options`)."""

    def __init__(self, root: str, options: dict | None = None):
        # Workers may run elsewhere: local roots travel as absolute paths.
        self.root = root.rstrip("/") if "://" in root else os.path.abspath(root)
        self.options = dict(options or {})
        self.fs, self.base = filesystem(self.root, self.options)
        self.object_store = protocol(self.root) in OBJECT_STORES

    def path(self, *parts: str) -> str:
        return posixpath.join(self.base, *parts)

    def url(self, *parts: str) -> str:
        """The URL of `parts` (what another process or library can open)."""
        if not self.object_store and is_local(self.root):
            return self.path(*parts)
        return posixpath.join(self.root, *parts)

    def check_writable(self) -> None:
        """Write and delete a small object at the root: an OutputError naming the
        problem (no bucket, access denied, no endpoint) before any work starts."""
        probe = f".irdata-probe{TMP_MARK}{uuid.uuid4().hex[:12]}"
        try:
            self.makedirs("")
            self.write_bytes(probe, b"")
            self.fs.rm(self.path(probe))
        except Exception as exc:
            raise OutputError(f"{self.root}: cannot write there: {_storage_problem(exc)}") \
                from None

    def exists(self, rel: str) -> bool:
        """A file or folder at `rel` (for a file, `is_file` is one request on S3)."""
        return self.fs.exists(self.path(rel))

    def is_file(self, rel: str) -> bool:
        """A file at `rel`: one HEAD request on S3 (s3fs's own checks list the prefix
        as well whenever the key is missing)."""
        path = self.path(rel)
        if not hasattr(self.fs, "call_s3"):
            return self.fs.isfile(path)
        bucket, key, _ = self.fs.split_path(path)
        try:
            self.fs.call_s3("head_object", Bucket=bucket, Key=key)
            return True
        except FileNotFoundError:
            return False

    def read_bytes(self, rel: str) -> bytes:
        """A whole file in one read (one GET on S3: no size lookup first)."""
        if hasattr(self.fs, "call_s3"):
            return self.fs.cat_file(self.path(rel), max_concurrency=1)
        return self.fs.cat_file(self.path(rel))

    def files(self, rel_dir: str) -> set[str]:
        """The files directly in `rel_dir`, as paths relative to the root, in one
        listing (empty when the folder is absent): many markers checked at once."""
        try:
            found = self.fs.ls(self.path(rel_dir), detail=True)
        except FileNotFoundError:
            return set()
        return {f"{rel_dir}/{posixpath.basename(entry['name'])}" for entry in found
                if entry.get("type") == "file"}

    def makedirs(self, rel: str) -> None:
        if not self.object_store:  # an object store has no folders to make
            self.fs.makedirs(self.path(rel), exist_ok=True)

    def glob(self, rel_pattern: str) -> list[str]:
        """Paths (as `path` gives them) matching the pattern, sorted."""
        return sorted(self.fs.glob(self.path(rel_pattern)))

    @contextmanager
    def atomic(self, rel: str, mode: str = "wb"):
        """Open `rel` for writing; it appears under its name only if the block succeeds."""
        final = self.path(rel)
        opener = self._put if self.object_store else self._renamed
        try:
            with opener(final, mode) as fh:
                yield fh
        except OSError as exc:
            if exc.errno in _FULL:
                raise OSError(exc.errno, f"{exc.strerror} (writing {final})") from exc
            raise

    @contextmanager
    def _renamed(self, final: str, mode: str):
        self.fs.makedirs(posixpath.dirname(final), exist_ok=True)
        tmp = f"{final}{TMP_MARK}{uuid.uuid4().hex[:12]}"
        try:
            with self.fs.open(tmp, mode) as fh:
                yield fh
            self.fs.mv(tmp, final)
        except BaseException:
            if self.fs.exists(tmp):
                self.fs.rm(tmp)
            raise

    @contextmanager
    def _put(self, final: str, mode: str):
        fh = self.fs.open(final, mode)
        try:
            yield fh
        except BaseException:
            fh.discard()  # the upload is abandoned: no object appears
            fh.closed = True
            raise
        fh.close()

    def write_bytes(self, rel: str, data: bytes) -> None:
        with self.atomic(rel) as fh:
            fh.write(data)

    def write_json(self, rel: str, obj) -> None:
        text = json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n"
        self.write_bytes(rel, text.encode("utf-8"))

    def read_json(self, rel: str):
        return json.loads(self.read_bytes(rel).decode("utf-8"))

    def remove_temps(self, rel_dir: str) -> int:
        """Delete leftovers of interrupted writes below `rel_dir`: temporary files,
        and on S3 the unfinished uploads of killed processes. Returns how many."""
        removed = self._abort_uploads(rel_dir)
        if not self.exists(rel_dir):
            return removed
        found = self.fs.find(self.path(rel_dir))
        leftovers = [p for p in found if TMP_MARK in posixpath.basename(p)]
        for path in leftovers:
            self.fs.rm(path)
        return removed + len(leftovers)

    def _abort_uploads(self, rel_dir: str) -> int:
        if not hasattr(self.fs, "list_multipart_uploads"):
            return 0
        bucket, _, prefix = self.path(rel_dir).partition("/")
        uploads = [u for u in self.fs.list_multipart_uploads(bucket)
                   if u["Key"].startswith(prefix)]
        for upload in uploads:
            self.fs.abort_mpu(bucket, upload["Key"], upload["UploadId"])
        return len(uploads)
