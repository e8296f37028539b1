"""Output folder access through fsspec: a local folder or any fsspec URL (s3://, gs://,
...). A reader, or a resumed build, never sees half a file: on a local or other
renaming filesystem a file is written under a temporary name and renamed into
place; on an object store (no rename there) it is written under its own key in one
upload that the store makes visible only when complete, and abandoned on failure."""

from __future__ import annotations

import asyncio
import errno
import json
import os
import posixpath
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager

import fsspec
import fsspec.asyn

from irdata.errors import UsageError, describe

TMP_MARK = ".tmp-"
_FULL = (errno.ENOSPC, errno.EDQUOT)  # named with the file being written when they stop it
# Stores whose uploads appear whole or not at all (a single PUT, or a multipart
# upload completed at close) and whose files can abandon an upload (`discard`).
OBJECT_STORES = {"s3", "s3a", "gs", "gcs", "abfs", "az"}
# S3 parts (5 MiB at least) go up on a thread while a partition is cut; the last one,
# sent at close, is what the partition waits for
UPLOAD_PART = 8 * 2**20
READ_BATCH = 32  # files requested at once by `iter_bytes`
COPY_LIMIT = 5 * 2**30  # S3's largest single-request copy


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

    def read_optional(self, rel: str) -> bytes | None:
        """A whole file, or None when it is absent: one GET on S3, no HEAD first."""
        try:
            return self.read_bytes(rel)
        except FileNotFoundError:
            return None

    def iter_bytes(self, rels: list[str]):
        """Whole files in the order given; an async store (S3, ...) is asked for up to
        READ_BATCH of them at once, so their round trips overlap. A missing file raises
        FileNotFoundError."""
        if not getattr(self.fs, "async_impl", False) or len(rels) < 2:
            yield from (self.read_bytes(rel) for rel in rels)
            return
        extra = {"max_concurrency": 1} if hasattr(self.fs, "call_s3") else {}

        async def batch(part: list[str]):
            return await asyncio.gather(*(self.fs._cat_file(self.path(rel), **extra)
                                          for rel in part), return_exceptions=True)

        for start in range(0, len(rels), READ_BATCH):
            for got in fsspec.asyn.sync(self.fs.loop, batch, rels[start:start + READ_BATCH]):
                if isinstance(got, BaseException):
                    raise got
                yield got

    def move(self, src_rel: str, dst_rel: str, size: int) -> None:
        """Move a file of `size` bytes into place: a rename on a filesystem; on S3 one
        server-side copy (the new key appears whole), then one delete."""
        src, dst = self.path(src_rel), self.path(dst_rel)
        if not hasattr(self.fs, "call_s3") or size >= COPY_LIMIT:
            self.fs.mv(src, dst)
            return
        (src_bucket, src_key, _), (bucket, key, _) = (self.fs.split_path(src),
                                                      self.fs.split_path(dst))
        self.fs.call_s3("copy_object", Bucket=bucket, Key=key,
                        CopySource={"Bucket": src_bucket, "Key": src_key})
        self.fs.call_s3("delete_object", Bucket=src_bucket, Key=src_key)

    def remove(self, rels: list[str]) -> None:
        """Delete these files where present (one request for all of them on S3)."""
        paths = [self.path(rel) for rel in rels]
        if hasattr(self.fs, "call_s3"):
            self.fs.rm(paths)  # one bulk delete; absent keys are no error there
            return
        for path in paths:
            try:
                self.fs.rm(path)
            except FileNotFoundError:
                pass

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
        upload = BackgroundUpload(self.fs.open(final, mode))
        try:
            yield upload
        except BaseException:
            upload.discard()  # the upload is abandoned: no object appears
            raise
        if getattr(_deferred, "uploads", None) is not None:
            _deferred.uploads.append(upload.finish())  # waited for by `deferred_uploads`
        else:
            upload.finish().result()

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


class BackgroundUpload:
    """A write-only file on an object store whose parts go up on a thread of its own
    while the writer goes on (one part in flight, one filling). `finish` uploads the
    rest and completes the object; `discard` abandons it (no object appears)."""

    def __init__(self, fh):
        self._fh = fh
        self._part = getattr(fh, "blocksize", UPLOAD_PART)
        self._buffer = bytearray()
        self._size = 0
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="irdata-upload")
        self._pending: Future | None = None
        self.closed = False

    def write(self, data) -> int:
        self._buffer += data
        self._size += len(data)
        if len(self._buffer) >= self._part:
            self._hand_over()
        return len(data)

    def tell(self) -> int:
        return self._size

    def flush(self) -> None:
        """Nothing to do: parts go up when full (a flush must not cut a short part)."""

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def _hand_over(self) -> None:
        self._wait()  # an upload error surfaces in the writer here
        chunk, self._buffer = bytes(self._buffer), bytearray()
        self._pending = self._pool.submit(self._fh.write, chunk)

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def finish(self) -> Future:
        """Upload what is left and complete the object, in the background."""
        self._hand_over()
        self.closed = True
        done = self._pool.submit(self._fh.close)
        self._pool.shutdown(wait=False)
        return done

    def discard(self) -> None:
        try:
            self._wait()
        except Exception:  # the upload is abandoned anyway
            pass
        self._pool.shutdown(wait=True)
        self._fh.discard()
        self._fh.closed = True
        self.closed = True


_deferred = threading.local()


@contextmanager
def deferred_uploads():
    """Within the block, object-store writes of this thread complete in the background
    (in parallel); the block's exit waits for all of them and raises the first failure.
    If the block fails, its objects still complete or fail on their own: the caller's
    marker, written after the block, is what a rerun trusts."""
    outer = getattr(_deferred, "uploads", None)
    _deferred.uploads = []
    try:
        yield
    finally:
        pending, _deferred.uploads = _deferred.uploads, outer
        errors = [f.exception() for f in pending]
        first = next((e for e in errors if e is not None), None)
    if first is not None:
        raise first
