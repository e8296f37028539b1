"""One streamed pass (`r|`) over a tar shard: its samples, sha256, size and format
problems; one sample's members are held at a time, whatever the shard's size."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator

from irdata.shards import group_samples, iter_members, split_name


class HashingReader:
    """A read-only file wrapper that counts bytes and computes sha256 on the way."""

    def __init__(self, fileobj):
        self._fileobj = fileobj
        self._digest = hashlib.sha256()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        data = self._fileobj.read(size)
        self._digest.update(data)
        self.size += len(data)
        return data

    def drain(self) -> None:
        """Read to the end (tar padding, or what follows a damaged member)."""
        while self.read(1 << 20):
            pass

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


def samples(reader: HashingReader, problem: Callable[[str, str, str], None]
            ) -> Iterator[tuple[str, dict[str, bytes]]]:
    """(key, {ext: bytes}) per sample in tar order; `problem(key, kind, what)` for a repeated
    key, a non-file member or a tar unreadable to its end (the partial sample still given)."""
    def other(name: str) -> None:
        problem(split_name(name)[0], "bad_member", f"{name} is not a regular file")

    def repeated(key: str, name: str) -> None:
        problem(key, "repeated_key", f"sample key appears more than once ({name})")

    def unreadable(key: str, exc: Exception) -> None:
        problem(key, "unreadable", f"tar cannot be read to its end: {exc}")

    yield from group_samples(iter_members(reader, on_other=other), repeated, unreadable)
    reader.drain()
