"""The descriptor table of an exclusion index: every ORB descriptor of the excluded
images with its position and owner, and per band of its bits the descriptors in
key order. Built from the sets' fingerprint rows; stored as .npy files and opened
memory-mapped, so the workers of one machine share one copy and load nothing."""

from __future__ import annotations

import mmap
import os

import numpy as np
import pyarrow as pa

PREFIX_BITS = 22  # key bits addressed directly (a 24-bit key's last 2 bits are compared)
MAX_BUCKET = 8  # a key shared by more indexed descriptors says little: not looked up
ARRAYS = ("points", "words", "owner", "order", "low", "starts")
BLOB_COLUMNS = ("points", "descriptors", "mirror_points", "mirror_descriptors")
VERSION = 1  # of the stored arrays' layout


def words(descriptors: np.ndarray) -> np.ndarray:
    """N x 32 uint8 -> N x 4 uint64 (big-endian words of the 256 bits)."""
    return np.ascontiguousarray(descriptors).view(">u8").astype(np.uint64).reshape(-1, 4)


def key_bits(count: int) -> int:
    """Bits per lookup key for an index of `count` descriptors: 16, or 24 past
    2**18 descriptors (4 per 16-bit key), so a key value stays rare as sets grow."""
    return 16 if count < 1 << 18 else 24


def band_keys(descriptors: np.ndarray, bits: int) -> np.ndarray:
    """N x (256 // bits) int32 lookup keys: consecutive 2- or 3-byte slices of each
    descriptor (computed from the bytes, without unpacking bits)."""
    width = bits // 8
    bands = 32 // width
    parts = descriptors[:, :bands * width].reshape(len(descriptors), bands, width)
    keys = np.zeros((len(descriptors), bands), np.int32)
    for byte in range(width):
        keys = (keys << 8) | parts[:, :, byte].astype(np.int32)
    return keys


def _unblob(data: bytes | None, dtype, width: int) -> np.ndarray:
    return np.frombuffer(data or b"", dtype=dtype).reshape(-1, width)


def _features(table: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(points, descriptors, owner) of every row and its mirror (owner 2i, 2i + 1)."""
    points, descriptors, owners = [], [], []
    blobs = table.select(list(BLOB_COLUMNS))
    for i, row in enumerate(blobs.to_pylist()):
        for variant, (p, d) in enumerate((("points", "descriptors"),
                                          ("mirror_points", "mirror_descriptors"))):
            desc = _unblob(row[d], np.uint8, 32)
            points.append(_unblob(row[p], np.float32, 2))
            descriptors.append(desc)
            owners.append(np.full(len(desc), 2 * i + variant, np.int32))
    if not points:
        return np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8), np.zeros(0, np.int32)
    return np.vstack(points), np.vstack(descriptors), np.concatenate(owners)


def _sorted_bands(keys: np.ndarray, bits: int) -> dict[str, np.ndarray]:
    """Every band's keys sorted, all bands end to end, with a table of where each
    (band, key prefix) starts: a lookup is two reads, not a binary search. Only the
    keys' low bytes are kept, to compare the bits past the prefix (~45 bytes per
    descriptor; the table is 16 MiB per band at most)."""
    count, bands = keys.shape
    shift = max(0, bits - PREFIX_BITS)
    edges = np.arange((1 << (bits - shift)) + 1, dtype=np.int64) << shift
    order, low, starts = [], [], []
    for band in range(bands):
        band_order = np.argsort(keys[:, band], kind="stable").astype(np.int32)
        sorted_keys = keys[band_order, band]
        order.append(band_order)
        low.append((sorted_keys & 0xFF).astype(np.uint8))
        starts.append(np.searchsorted(sorted_keys, edges) + band * count)
    kind = np.int32 if count * bands < 2**31 else np.int64
    return {"order": np.concatenate(order), "low": np.concatenate(low),
            "starts": np.concatenate(starts).astype(kind)}


def mapped_npy(path: str) -> np.ndarray:
    """A read-only view of a .npy file's array, shared by every process that maps it.
    The pages are mapped in at once (MAP_POPULATE where the system has it): lookups
    touch them at random, and a fault per page would cost more than the matching."""
    with open(path, "rb") as fh:
        version = np.lib.format.read_magic(fh)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) \
            else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(fh)
        offset = fh.tell()
        flags = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)
        mapping = mmap.mmap(fh.fileno(), 0, flags=flags, prot=mmap.PROT_READ)
    count = int(np.prod(shape))
    array = np.frombuffer(mapping, dtype=dtype, count=count, offset=offset)
    return array.reshape(shape, order="F" if fortran else "C")


class DescriptorTable:
    """The indexed descriptors (`ARRAYS`) and the lookup of a query's candidates."""

    def __init__(self, arrays: dict[str, np.ndarray]):
        for name in ARRAYS:
            setattr(self, name, arrays[name])
        self.bits = key_bits(len(self.owner))
        self.shift = max(0, self.bits - PREFIX_BITS)
        self.prefixes = 1 << (self.bits - self.shift)

    @classmethod
    def from_table(cls, table: pa.Table) -> DescriptorTable:
        """The table of the fingerprint rows of one or more sets (sets.SCHEMA)."""
        points, descriptors, owner = _features(table)
        bits = key_bits(len(owner))
        return cls({"points": points, "words": words(descriptors), "owner": owner,
                    **_sorted_bands(band_keys(descriptors, bits), bits)})

    def save_array(self, name: str, fh) -> None:
        """One of `ARRAYS` as .npy into an open file (`open` maps STEM.NAME.npy)."""
        np.save(fh, getattr(self, name))

    @classmethod
    def open(cls, folder: str, stem: str) -> DescriptorTable:
        """The arrays `save` wrote, memory-mapped read-only."""
        return cls({name: mapped_npy(os.path.join(folder, f"{stem}.{name}.npy"))
                    for name in ARRAYS})

    def candidates(self, descriptors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(query index, indexed descriptor) pairs sharing a band key, for every band at
        once; keys shared by over MAX_BUCKET descriptors are skipped. A pair found by
        several bands stays repeated."""
        keys = band_keys(descriptors, self.bits)
        bands = keys.shape[1]
        slot = ((np.arange(bands) * (self.prefixes + 1))[None, :] + (keys >> self.shift)).ravel()
        lo, hi = self.starts[slot].astype(np.int64), self.starts[slot + 1].astype(np.int64)
        sizes = hi - lo
        sizes[sizes > MAX_BUCKET << self.shift] = 0  # a crowded key range: skipped
        lookup = np.repeat(np.arange(sizes.size), sizes)
        where = np.repeat(lo, sizes) + np.arange(sizes.sum()) - np.repeat(
            np.cumsum(sizes) - sizes, sizes)
        same = self.low[where] == (keys.ravel()[lookup] & 0xFF)
        lookup, where = lookup[same], where[same]
        crowded = np.bincount(lookup, minlength=sizes.size) > MAX_BUCKET
        keep = ~crowded[lookup]
        return lookup[keep] // bands, np.asarray(self.order[where[keep]])

    def nbytes(self) -> int:
        return sum(getattr(self, name).nbytes for name in ARRAYS)
