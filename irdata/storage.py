"""Output folder access through fsspec. Every file is written under a temporary name
and renamed into place, so a reader (or a resumed build) never sees half a file."""

from __future__ import annotations

import errno
import json
import os
import posixpath
import uuid
from contextlib import contextmanager

import fsspec

TMP_MARK = ".tmp-"
_FULL = (errno.ENOSPC, errno.EDQUOT)  # named with the file being written when they stop it


class Output:
    """The build's output root (a local folder or any fsspec URL)."""

    def __init__(self, root: str):
        # Workers may run elsewhere: local roots travel as absolute paths.
        self.root = root if "://" in root else os.path.abspath(root)
        self.fs, self.base = fsspec.core.url_to_fs(self.root)

    def path(self, *parts: str) -> str:
        return posixpath.join(self.base, *parts)

    def exists(self, rel: str) -> bool:
        return self.fs.exists(self.path(rel))

    def makedirs(self, rel: str) -> None:
        self.fs.makedirs(self.path(rel), exist_ok=True)

    @contextmanager
    def atomic(self, rel: str, mode: str = "wb"):
        """Open `rel` for writing; it appears under its name only if the block succeeds."""
        final = self.path(rel)
        self.fs.makedirs(posixpath.dirname(final), exist_ok=True)
        tmp = f"{final}{TMP_MARK}{uuid.uuid4().hex[:12]}"
        try:
            with self.fs.open(tmp, mode) as fh:
                yield fh
            self.fs.mv(tmp, final)
        except BaseException as exc:
            if self.fs.exists(tmp):
                self.fs.rm(tmp)
            if isinstance(exc, OSError) and exc.errno in _FULL:
                raise OSError(exc.errno, f"{exc.strerror} (writing {final})") from exc
            raise

    def write_bytes(self, rel: str, data: bytes) -> None:
        with self.atomic(rel) as fh:
            fh.write(data)

    def write_json(self, rel: str, obj) -> None:
        text = json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n"
        self.write_bytes(rel, text.encode("utf-8"))

    def read_json(self, rel: str):
        with self.fs.open(self.path(rel), "rb") as fh:
            return json.loads(fh.read().decode("utf-8"))

    def remove_temps(self, rel_dir: str) -> int:
        """Delete leftovers of interrupted atomic writes below `rel_dir`."""
        if not self.exists(rel_dir):
            return 0
        found = self.fs.find(self.path(rel_dir))
        leftovers = [p for p in found if TMP_MARK in posixpath.basename(p)]
        for path in leftovers:
            self.fs.rm(path)
        return len(leftovers)
