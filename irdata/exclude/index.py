"""Matching one source against every excluded image: exact (bytes or pixels), near
(the dedupe hashes of the excluded image's four flips) and contained (ORB features
of the excluded image, or of its mirror, found in the source under one similarity
transform: a crop of the source at any scale and position)."""

from __future__ import annotations

import json
from dataclasses import dataclass

import cv2
import numpy as np
import pyarrow as pa

from irdata.dedupe.clusters import DHASH_DISTANCE, PHASH_DISTANCE
from irdata.dedupe.search import hex_to_u64, popcount
from irdata.exclude import fingerprint

BAND_BITS = 16  # descriptor bits per lookup key
BANDS = 16  # keys per descriptor (all of its 256 bits)
MAX_DESCRIPTOR_DISTANCE = 48  # of 256 bits: a candidate descriptor match
MIN_VOTES = 8  # matched descriptors before a geometric check is tried
MIN_INLIERS = 12  # descriptor matches under one similarity transform: a crop
MIN_INLIER_SHARE = 0.25  # ... and at least this share of the tried matches
REPROJECTION = 4.0  # RANSAC tolerance, working-copy pixels
WHOLE_AREA = 0.5  # a contained region over this share of the source: the whole image


@dataclass(frozen=True)
class Match:
    set: str
    file: str
    kind: str  # exact, pixels, near, contained
    distance: float  # 0 exact; pHash bits (near); median descriptor bits (contained)
    region: tuple[int, int, int, int] | None = None  # x0, y0, x1, y1 in source pixels

    @property
    def whole(self) -> bool:
        return self.region is None


def _bits(descriptors: np.ndarray) -> np.ndarray:
    """N x 32 uint8 -> N x 4 uint64 (big-endian words of the 256 bits)."""
    return np.ascontiguousarray(descriptors).view(">u8").astype(np.uint64).reshape(-1, 4)


def _band_keys(descriptors: np.ndarray) -> np.ndarray:
    """N x BANDS lookup keys: consecutive BAND_BITS-bit slices of each descriptor."""
    bits = np.unpackbits(descriptors, axis=1)[:, :BANDS * BAND_BITS]
    weights = (1 << np.arange(BAND_BITS - 1, -1, -1)).astype(np.int64)
    return bits.reshape(len(descriptors), BANDS, BAND_BITS).astype(np.int64) @ weights


def _blob(array: np.ndarray) -> bytes:
    return np.ascontiguousarray(array).tobytes()


def _unblob(data: bytes | None, dtype, width: int) -> np.ndarray:
    return np.frombuffer(data or b"", dtype=dtype).reshape(-1, width)


class ExclusionIndex:
    """Every excluded image of one or more sets, indexed; `find` is thread-safe."""

    def __init__(self, table: pa.Table):
        rows = table.to_pylist()
        self.rows = [(row["set"], row["file"]) for row in rows]
        self.by_bytes = {row["sha256"]: i for i, row in enumerate(rows) if row["sha256"]}
        self.by_pixels = {row["pixels_sha256"]: i for i, row in enumerate(rows)}
        self.sizes = {(row["width"], row["height"]) for row in rows}
        self.phash = hex_to_u64([h for row in rows for h in row["phashes"]]).reshape(-1, 4) \
            if rows else np.zeros((0, 4), np.uint64)
        self.dhash = hex_to_u64([h for row in rows for h in row["dhashes"]]).reshape(-1, 4) \
            if rows else np.zeros((0, 4), np.uint64)
        self._index_features(rows)

    def _index_features(self, rows: list[dict]) -> None:
        points, descriptors, owners, corners = [], [], [], []
        for i, row in enumerate(rows):
            for variant, (p, d) in enumerate((("points", "descriptors"),
                                              ("mirror_points", "mirror_descriptors"))):
                xy, desc = _unblob(row[p], np.float32, 2), _unblob(row[d], np.uint8, 32)
                points.append(xy)
                descriptors.append(desc)
                owners.append(np.full(len(desc), 2 * i + variant, np.int32))
            corners.append((row["work_width"], row["work_height"]))
        self.corners = corners
        self.points = np.vstack(points) if points else np.zeros((0, 2), np.float32)
        descriptors = np.vstack(descriptors) if descriptors else np.zeros((0, 32), np.uint8)
        self.words = _bits(descriptors)
        self.owner = np.concatenate(owners) if owners else np.zeros(0, np.int32)
        keys = _band_keys(descriptors)
        self.order = [np.argsort(keys[:, band], kind="stable") for band in range(BANDS)]
        self.sorted_keys = [keys[order, band] for band, order in enumerate(self.order)]

    def find(self, sha256: str, pixels: np.ndarray, work: np.ndarray, phash: str,
             dhash: str) -> list[Match]:
        """Every match of one source (decoded `pixels`, working copy `work`), strongest
        first; whole-image matches have no region."""
        height, width = pixels.shape[:2]
        if sha256 in self.by_bytes:
            return [self._match(self.by_bytes[sha256], "exact", 0.0)]
        if (width, height) in self.sizes:
            found = self.by_pixels.get(fingerprint.pixels_sha256(pixels))
            if found is not None:
                return [self._match(found, "pixels", 0.0)]
        near = self._near(phash, dhash)
        if near:
            return near
        return self._contained(pixels.shape, work)

    def _match(self, i: int, kind: str, distance: float, region=None) -> Match:
        return Match(*self.rows[i], kind, distance, region)

    def _near(self, phash: str, dhash: str) -> list[Match]:
        if not phash or not len(self.phash):
            return []
        p = popcount(self.phash ^ hex_to_u64([phash])[0]).astype(np.int64)
        d = popcount(self.dhash ^ hex_to_u64([dhash])[0]).astype(np.int64)
        close = (p <= PHASH_DISTANCE) & (d <= DHASH_DISTANCE)
        best = np.where(close, p, 999).min(axis=1)
        return [self._match(int(i), "near", float(best[i]))
                for i in np.argsort(best, kind="stable") if best[i] < 999]

    def _candidates(self, descriptors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(query index, indexed descriptor) pairs sharing at least one band key."""
        keys = _band_keys(descriptors)
        queries, found = [], []
        for band in range(BANDS):
            column = self.sorted_keys[band]
            lo = np.searchsorted(column, keys[:, band], "left")
            hi = np.searchsorted(column, keys[:, band], "right")
            counts = hi - lo
            if not counts.any():
                continue
            query = np.repeat(np.arange(len(keys)), counts)
            offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
            queries.append(query)
            found.append(self.order[band][np.repeat(lo, counts) + offsets])
        if not queries:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        pairs = np.unique(np.stack([np.concatenate(queries), np.concatenate(found)]), axis=1)
        return pairs[0], pairs[1]

    def _contained(self, shape: tuple, work: np.ndarray) -> list[Match]:
        if not len(self.owner):
            return []
        xy, descriptors = fingerprint.features(work, fingerprint.SOURCE_FEATURES)
        if not len(descriptors):
            return []
        query, found = self._candidates(descriptors)
        distance = popcount(_bits(descriptors)[query] ^ self.words[found]).sum(axis=1,
                                                                            dtype=np.int64)
        keep = distance <= MAX_DESCRIPTOR_DISTANCE
        query, found, distance = query[keep], found[keep], distance[keep]
        owner = self.owner[found]
        matches = []
        for variant in np.unique(owner):
            mine = owner == variant
            if len(np.unique(query[mine])) < MIN_VOTES:
                continue
            match = self._verify(int(variant), query[mine], found[mine], distance[mine], xy,
                                 shape, work.shape)
            if match:
                matches.append(match)
        return sorted(matches, key=lambda m: (m.region is not None, m.distance, m.set, m.file))

    def _verify(self, variant: int, query, found, distance, xy, shape, work_shape):
        """A Match when one similarity transform maps enough of the excluded image's
        features onto the source's, else None."""
        order = np.lexsort((distance, query))  # best indexed match per query descriptor
        first = np.r_[True, query[order][1:] != query[order][:-1]]
        query, found, distance = query[order][first], found[order][first], distance[order][first]
        source = xy[query].reshape(-1, 1, 2)
        excluded = self.points[found].reshape(-1, 1, 2)
        transform, inliers = cv2.estimateAffinePartial2D(
            excluded, source, method=cv2.RANSAC, ransacReprojThreshold=REPROJECTION,
            maxIters=2000, confidence=0.995)
        if transform is None:
            return None
        inliers = inliers.ravel().astype(bool)
        if inliers.sum() < MIN_INLIERS or inliers.mean() < MIN_INLIER_SHARE:
            return None
        scale = float(np.hypot(*transform[:, 0]))
        if not 0.05 <= scale <= 20:
            return None
        return self._placed(variant // 2, transform, float(np.median(distance[inliers])),
                            shape, work_shape)

    def _placed(self, i: int, transform, distance: float, shape, work_shape) -> Match:
        """The excluded image's corners mapped into the source, as a clipped box in
        source pixels; the whole image when the box covers most of it."""
        width, height = self.corners[i]
        corners = np.array([[0, 0], [width, 0], [0, height], [width, height]], np.float64)
        mapped = corners @ transform[:, :2].T + transform[:, 2]
        factor = shape[1] / work_shape[1]
        x0, y0 = np.clip(mapped.min(axis=0) * factor, 0, (shape[1], shape[0]))
        x1, y1 = np.clip(mapped.max(axis=0) * factor, 0, (shape[1], shape[0]))
        area = (x1 - x0) * (y1 - y0) / (shape[0] * shape[1])
        if area > WHOLE_AREA:
            return self._match(i, "contained", distance)
        region = (int(x0), int(y0), int(np.ceil(x1)), int(np.ceil(y1)))
        return self._match(i, "contained", distance, region)


def region_json(matches: list[Match]) -> str | None:
    """The contained regions of a source's matches, for the images table."""
    boxes = [list(m.region) for m in matches if m.region is not None]
    return json.dumps(boxes) if boxes else None
