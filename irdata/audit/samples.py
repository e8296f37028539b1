"""One pass over a tar shard: its samples, sha256 and size, and its format problems.

Reading is streamed (`r|`) through a hashing reader, so a shard of any size is
read once and never held in memory; one sample's members are held at a time.
"""

from __future__ import annotations

import hashlib
import tarfile
from collections.abc import Callable, Iterator


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


def split_name(name: str) -> tuple[str, str]:
    """WebDataset convention: the key ends at the first dot, the rest is the extension."""
    key, _, ext = name.partition(".")
    return key, ext


def samples(reader: HashingReader, problem: Callable[[str, str, str], None]
            ) -> Iterator[tuple[str, dict[str, bytes]]]:
    """(key, {ext: bytes}) per sample in tar order. Calls `problem(key, kind, what)`
    for a repeated key, a non-file member, or a tar that cannot be read to its end."""
    seen: set[str] = set()
    key, members = None, {}
    try:
        with tarfile.open(fileobj=reader, mode="r|") as tar:
            for member in tar:
                name_key, ext = split_name(member.name)
                if not member.isfile():
                    problem(name_key, "bad_member", f"{member.name} is not a regular file")
                    continue
                data = tar.extractfile(member).read()
                if name_key != key or ext in members:
                    if key is not None:
                        yield key, members
                    if name_key in seen:
                        problem(name_key, "repeated_key",
                                f"sample key appears more than once ({member.name})")
                    seen.add(name_key)
                    key, members = name_key, {}
                members[ext] = data
    except (tarfile.TarError, EOFError, OSError) as exc:
        problem(key or "", "unreadable", f"tar cannot be read to its end: {exc}")
    if key is not None:
        yield key, members
    reader.drain()
