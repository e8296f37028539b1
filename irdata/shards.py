"""Deterministic WebDataset tar shards: fixed mtime, owner, mode and member order."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile

FIXED_MTIME = 0
COPY_BUFFER = 4 << 20  # member payloads are copied in one piece, not in 16 KiB pieces


def _info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, FIXED_MTIME, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


class ShardWriter:
    """Writes samples `{key}.{ext}` into one tar stream in the order given."""

    def __init__(self, fileobj):
        self._tar = tarfile.open(fileobj=fileobj, mode="w", format=tarfile.USTAR_FORMAT,
                                 copybufsize=COPY_BUFFER)
        self.samples = 0

    def add(self, key: str, members: dict[str, bytes | dict]) -> None:
        """Add one sample; dict values are stored as sorted, compact JSON."""
        if "." in key or "/" in key:
            raise ValueError(f"sample key must not contain '.' or '/': {key!r}")
        for ext, payload in members.items():
            if isinstance(payload, dict):
                payload = json_bytes(payload)
            self._tar.addfile(_info(f"{key}.{ext}", len(payload)), io.BytesIO(payload))
        self.samples += 1

    def close(self) -> None:
        self._tar.close()


def json_bytes(obj: dict) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      default=str).encode("utf-8")


class HashingWriter:
    """A write-only file wrapper that counts bytes and computes sha256 on the way."""

    def __init__(self, fileobj):
        self._fileobj = fileobj
        self._digest = hashlib.sha256()
        self.size = 0

    def write(self, data) -> int:
        self._digest.update(data)
        self.size += len(data)
        return self._fileobj.write(data)

    def tell(self) -> int:
        return self.size

    def flush(self) -> None:
        self._fileobj.flush()

    def hexdigest(self) -> str:
        return self._digest.hexdigest()
