"""Matching one source against every excluded image: exact (bytes or pixels), near
(the dedupe hashes of the excluded image's four flips) and contained (ORB features
of the excluded image, or of its mirror, found in the source under one similarity
transform: a crop of the source at any scale and position)."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pyarrow as pa

from irdata.dedupe.clusters import DHASH_DISTANCE, PHASH_DISTANCE
from irdata.dedupe.search import hex_to_u64, popcount
from irdata.exclude import fingerprint
from irdata.exclude.lookup import DescriptorTable, words

LIGHT_COLUMNS = ["set", "file", "width", "height", "sha256", "pixels_sha256", "phashes",
                 "dhashes", "work_width", "work_height"]  # all but features and thumbnail

MAX_DESCRIPTOR_DISTANCE = 40  # of 256 bits: a candidate descriptor match
RATIO = 0.8  # ... whose distance is under this share of the query's next-best one
MIN_VOTES = 5  # matched descriptors before a geometric check is tried
REPROJECTION = 4.0  # RANSAC tolerance, working-copy pixels
# What a crop must show: chosen on half A of the calibration photos, reported on
# half B (irdata/exclude/CALIBRATION.md).
MIN_INLIERS = 6  # descriptor matches under one similarity transform
MIN_INLIER_SHARE = 0.2  # ... and this share of the tried matches (repeated content lowers it)
STRONG_INLIERS = 8  # fewer inliers are weak evidence: their descriptors must be close
WEAK_DISTANCE = 23  # ... at most this median distance (bits of 256)
MIN_INSIDE = 0.9  # share of the mapped excluded image inside the source (a crop lies in it)
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


def _flip_hashes(rows: list[dict], column: str) -> np.ndarray:
    """N x 4 uint64: each image's hashes of its four flips; for a row without, all
    bits set, which is near no source (a pHash thresholds at its median: half ones)."""
    table = np.full((len(rows), 4), np.iinfo(np.uint64).max, np.uint64)
    hashed = [i for i, row in enumerate(rows) if row[column]]
    if hashed:
        table[hashed] = hex_to_u64([h for i in hashed for h in rows[i][column]]).reshape(-1, 4)
    return table


class ExclusionIndex:
    """Every excluded image of one or more sets, indexed; `find` is thread-safe."""

    def __init__(self, table: pa.Table, descriptors: DescriptorTable | None = None):
        """`descriptors`: the table's DescriptorTable when stored (else built here)."""
        rows = table.select(LIGHT_COLUMNS).to_pylist()
        self.rows = [(row["set"], row["file"]) for row in rows]
        self.by_bytes = {row["sha256"]: i for i, row in enumerate(rows) if row["sha256"]}
        self.by_pixels = {row["pixels_sha256"]: i for i, row in enumerate(rows)
                          if row["pixels_sha256"]}
        self.sizes = {(row["width"], row["height"]) for row in rows if row["pixels_sha256"]}
        self.phash, self.dhash = (_flip_hashes(rows, column) for column in ("phashes", "dhashes"))
        self.corners = [(row["work_width"] or 0, row["work_height"] or 0) for row in rows]
        self.table = descriptors or DescriptorTable.from_table(table)

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
        found = np.flatnonzero(best < 999)
        return [self._match(int(i), "near", float(best[i]))
                for i in found[np.argsort(best[found], kind="stable")]]

    def _contained(self, shape: tuple, work: np.ndarray) -> list[Match]:
        if not len(self.table.owner):
            return []
        xy, descriptors = fingerprint.features(work, fingerprint.SOURCE_FEATURES)
        if not len(descriptors):
            return []
        query, found, distance = self._matched(descriptors)
        owner = np.asarray(self.table.owner[found])
        votes = np.bincount(owner, minlength=2 * len(self.rows))
        matches = []
        for variant in np.flatnonzero(votes >= MIN_VOTES):
            mine = owner == variant
            evidence = self.evidence(int(variant), query[mine], found[mine], distance[mine],
                                     xy, shape, work.shape)
            if evidence and accepted(evidence):
                matches.append(self._placed(evidence))
        return sorted(matches, key=lambda m: (m.region is not None, m.distance, m.set, m.file))

    def _matched(self, descriptors: np.ndarray):
        """Each source descriptor's best indexed match, when close and clearly better
        than its best match in any other excluded image (Lowe's ratio test over the
        candidates; an image's own scales and mirror do not compete)."""
        query, found = self.table.candidates(descriptors)
        distance = popcount(words(descriptors)[query] ^ self.table.words[found]).sum(
            axis=1, dtype=np.int64)
        order = np.argsort(query.astype(np.int64) << 9 | distance)  # by query, then distance
        query, found, distance = query[order], found[order], distance[order]
        if not len(query):
            return query, found, distance
        starts = np.flatnonzero(np.r_[True, query[1:] != query[:-1]])
        image = np.asarray(self.table.owner[found]) // 2
        group = np.cumsum(np.r_[True, query[1:] != query[:-1]]) - 1
        other = np.where(image != image[starts][group], distance, 256)
        second = np.minimum.reduceat(other, starts)
        best = distance[starts]
        keep = (best <= MAX_DESCRIPTOR_DISTANCE) & (best < RATIO * second)
        chosen = starts[keep]
        return query[chosen], found[chosen], distance[chosen]

    def evidence(self, variant: int, query, found, distance, xy, shape, work_shape):
        """The geometric evidence that excluded image `variant // 2` (mirrored when odd)
        lies in the source: a RANSAC similarity transform and what supports it."""
        source = xy[query].reshape(-1, 1, 2)
        excluded = np.asarray(self.table.points[found]).reshape(-1, 1, 2)
        transform, inliers = cv2.estimateAffinePartial2D(
            excluded, source, method=cv2.RANSAC, ransacReprojThreshold=REPROJECTION,
            maxIters=2000, confidence=0.995)
        if transform is None:
            return None
        inliers = inliers.ravel().astype(bool)
        i = variant // 2
        width, height = self.corners[i]
        corners = np.array([[0, 0], [width, 0], [0, height], [width, height]], np.float64)
        mapped = corners @ transform[:, :2].T + transform[:, 2]
        low, high = mapped.min(axis=0), mapped.max(axis=0)
        clipped = np.clip(high, 0, work_shape[1::-1]) - np.clip(low, 0, work_shape[1::-1])
        full = np.prod(high - low)
        return {"image": i, "inliers": int(inliers.sum()), "share": float(inliers.mean()),
                "inside": float(np.prod(clipped) / full) if full > 0 else 0.0,
                "scale": float(np.hypot(*transform[:, 0])),
                "distance": float(np.median(distance[inliers])) if inliers.any() else 256.0,
                "box": (low, high), "shape": shape, "work_shape": work_shape}

    def _placed(self, evidence: dict) -> Match:
        """The excluded image's box in source pixels, clipped; the whole image when the
        box covers most of it."""
        shape, work_shape = evidence["shape"], evidence["work_shape"]
        factor = shape[1] / work_shape[1]
        low, high = evidence["box"]
        x0, y0 = np.clip(low * factor, 0, (shape[1], shape[0]))
        x1, y1 = np.clip(high * factor, 0, (shape[1], shape[0]))
        i, distance = evidence["image"], evidence["distance"]
        if (x1 - x0) * (y1 - y0) / (shape[0] * shape[1]) > WHOLE_AREA:
            return self._match(i, "contained", distance)
        region = (int(x0), int(y0), int(np.ceil(x1)), int(np.ceil(y1)))
        return self._match(i, "contained", distance, region)


def accepted(evidence: dict) -> bool:
    """Whether the evidence shows a crop (thresholds above)."""
    return (evidence["inliers"] >= MIN_INLIERS and evidence["share"] >= MIN_INLIER_SHARE
            and evidence["inside"] >= MIN_INSIDE
            and (evidence["inliers"] >= STRONG_INLIERS or evidence["distance"] <= WEAK_DISTANCE)
            and 0.05 <= evidence["scale"] <= 20)
