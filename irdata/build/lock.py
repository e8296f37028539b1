"""One build per output folder: a lock file with its owner's host and pid. A second build
would delete the first's temporary files and race on its partitions; a lock whose pid is
gone is taken over. Remote outputs (no atomic create-if-absent) are not locked."""

from __future__ import annotations

import json
import os
import socket
from contextlib import contextmanager

from irdata.errors import UsageError
from irdata.storage import Output

LOCK = ".irdata.lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _owner(path: str) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            return json.load(fh)
    except (OSError, ValueError):
        return {}


def _try_create(path: str) -> bool:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"host": socket.gethostname(), "pid": os.getpid()}, fh)
    return True


@contextmanager
def build_lock(out: Output):
    """Hold the output folder's lock for the duration of a build."""
    if "://" in out.root and not out.root.startswith("file://"):
        yield
        return
    path = os.path.join(out.base, LOCK)
    if not _try_create(path):
        owner = _owner(path)
        same_host = owner.get("host") == socket.gethostname()
        if same_host and isinstance(owner.get("pid"), int) and _alive(owner["pid"]):
            raise UsageError(f"{out.root} is being built by another irdata process "
                             f"(pid {owner['pid']}); wait for it or use another --out")
        if not same_host and owner:
            raise UsageError(f"{out.root} is locked by a build on host {owner.get('host')} "
                             f"(pid {owner.get('pid')}); if it is gone, delete {path}")
        os.remove(path)  # left by a killed build on this host
        if not _try_create(path):
            raise UsageError(f"{out.root} was locked by another build just now")
    try:
        yield
    finally:
        if _owner(path).get("pid") == os.getpid():
            os.remove(path)
