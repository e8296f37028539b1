"""Local folders to SourceItems: regular image files, searched recursively."""

from __future__ import annotations

import os
import stat

from irdata.sources.item import SourceItem
from irdata.storage import filesystem, is_store_url, store_url

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".jpe", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif")


def is_image_name(name: str) -> bool:
    """True when a file or member name has an image extension (magic bytes decide later)."""
    return name.lower().endswith(IMAGE_SUFFIXES)


def is_regular_file(path: str) -> bool:
    """True for a plain file: no link, FIFO (it would block fetch), socket or device."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def list_folder_items(source: dict, options: dict | None = None) -> list[SourceItem]:
    """Image files below the folder (a local one, or a store URL such as
    s3://bucket/photos/ listed with the storage `options`); symbolic links are not
    followed."""
    root = source["dir"]
    if is_store_url(root):
        return _store_items(source, root, options)
    items = []
    for folder, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in sorted(filenames):
            path = os.path.join(folder, name)
            if not is_image_name(name) or not is_regular_file(path):
                continue
            items.append(SourceItem(locator=path, kind="file", source_name=source["name"],
                                    source=source["name"], license=source["license"]))
    return items


def _store_items(source: dict, root: str, options: dict | None) -> list[SourceItem]:
    fs, base = filesystem(root, options)
    found = fs.find(base.rstrip("/"), detail=True)
    if not found and not fs.exists(base):
        raise FileNotFoundError(f"no such folder: {root}")
    return [SourceItem(locator=store_url(fs, path), kind="file", source_name=source["name"],
                       source=source["name"], license=source["license"])
            for path in sorted(found)
            if found[path].get("type") == "file" and is_image_name(path.rsplit("/", 1)[-1])]
