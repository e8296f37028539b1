"""Zip and tar archives: list image members and read them into memory, one at a time,
capped at `max_bytes`. Nothing is written under a member's name, so paths cannot escape;
absolute or `..` paths, links and devices are still refused, with a reason for auditors."""

from __future__ import annotations

import stat
import tarfile
import zipfile
from collections.abc import Iterator

from irdata.sources.folders import is_image_name
from irdata.sources.item import SourceItem
from irdata.storage import open_input


class MemberTooLarge(Exception):
    """A member's real or declared size is above the cap."""


def archive_type(locator: str) -> str:
    """'zip' or 'tar' from the archive's name."""
    return "zip" if locator.lower().split("?")[0].endswith(".zip") else "tar"


def unsafe_member(name: str) -> str:
    """Why a member name is refused, or '' when it is a plain relative path."""
    cleaned = name.replace("\\", "/")
    if cleaned.startswith("/") or (len(cleaned) > 1 and cleaned[1] == ":"):
        return "absolute member path"
    if ".." in cleaned.split("/"):
        return "member path with '..'"
    return ""


def _zip_problem(info: zipfile.ZipInfo) -> str:
    """Zips made on Unix store the file type in the high bits of external_attr."""
    kind = stat.S_IFMT(info.external_attr >> 16)
    return "" if kind in (0, stat.S_IFREG) else "not a regular file (link or device)"


def _zip_members(path: str, options: dict | None) -> Iterator[tuple[str, str]]:
    with open_input(path, options) as fh, zipfile.ZipFile(fh) as zf:
        for info in zf.infolist():
            if not info.is_dir():
                yield info.filename, _zip_problem(info)


def _tar_members(path: str, options: dict | None) -> Iterator[tuple[str, str]]:
    with open_input(path, options) as fh, tarfile.open(fileobj=fh, mode="r|*") as tf:
        for info in tf:
            if info.isdir():
                continue
            yield info.name, "" if info.isfile() else "not a regular file (link or device)"


def list_archive_items(source: dict, locator: str, local_path: str,
                       options: dict | None = None) -> list[SourceItem]:
    """Image members of the archive at `local_path` (a local path or a store URL,
    opened with the storage `options`); `locator` names it in ids."""
    members = _zip_members if archive_type(locator) == "zip" else _tar_members
    items = []
    for name, problem in members(local_path, options):
        if not is_image_name(name):
            continue
        item = SourceItem(locator=f"{locator}!{name}", kind="member",
                          source_name=source["name"], source=source["name"],
                          license=source["license"], container=local_path, member=name)
        problem = problem or unsafe_member(name)
        if problem:
            item.error, item.detail = "unsafe_member", problem
        items.append(item)
    return items


def _read_capped(fh, cap: int) -> bytes:
    data = fh.read(cap + 1)
    if len(data) > cap:
        raise MemberTooLarge(f"member larger than {cap} bytes")
    return data


def _read_zip(container: str, names: set[str], cap: int, options: dict | None):
    # Archive order, like tars and like the plan: a sequential reader buffers nothing.
    with open_input(container, options) as fh, zipfile.ZipFile(fh) as zf:
        for info in zf.infolist():
            if info.filename not in names or info.is_dir() or _zip_problem(info):
                continue
            name = info.filename
            try:
                if info.file_size > cap:
                    raise MemberTooLarge(f"declared size {info.file_size} > {cap} bytes")
                with zf.open(info) as fh:
                    yield name, _read_capped(fh, cap)
            except Exception as exc:
                yield name, exc


def _read_tar(container: str, names: set[str], cap: int, options: dict | None):
    with open_input(container, options) as fh, tarfile.open(fileobj=fh, mode="r|*") as tf:
        for info in tf:
            if info.name not in names or not info.isfile():
                continue
            try:
                if info.size > cap:
                    raise MemberTooLarge(f"declared size {info.size} > {cap} bytes")
                yield info.name, _read_capped(tf.extractfile(info), cap)
            except (MemberTooLarge, tarfile.TarError) as exc:
                yield info.name, exc


def read_members(container: str, locator_hint: str, names: set[str], cap: int,
                 options: dict | None = None) -> Iterator[tuple[str, bytes | Exception]]:
    """(member, bytes or the exception met), once per wanted member. A tar is streamed in
    one pass (.tar.gz needs no seeking); a broken archive's error goes to every member not
    yet read. `locator_hint`, the archive's own locator or path, picks zip or tar."""
    reader = _read_zip if archive_type(locator_hint) == "zip" else _read_tar
    remaining = set(names)
    try:
        for name, result in reader(container, frozenset(remaining), cap, options):
            if name in remaining:
                remaining.discard(name)
                yield name, result
    except Exception as exc:
        for name in sorted(remaining):
            yield name, exc
        return
    for name in sorted(remaining):
        yield name, KeyError(f"member not found in archive: {name}")
