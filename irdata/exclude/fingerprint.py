"""What an image is matched by: exact hashes, the dedupe hashes of its four flips,
and ORB features of its working copy and of its mirror (pure functions)."""

from __future__ import annotations

import hashlib
import threading

import cv2
import numpy as np

from irdata.imaging import hashing

FEATURES = 300  # ORB keypoints per excluded image and scale
SOURCE_FEATURES = 1000  # per source: enough to cover a small cropped region too
FLIPS = ("none", "mirror", "flip", "both")  # as cv2.flip codes below
_FLIP_CODES = {"mirror": 1, "flip": 0, "both": -1}
_LOCAL = threading.local()  # an ORB detector per thread (inspect.threads share none)


def pixels_sha256(rgb: np.ndarray) -> str:
    """sha256 of the decoded pixels (shape included): equal for equal images in any
    container or encoding."""
    head = f"{rgb.shape[0]}x{rgb.shape[1]}x{rgb.shape[2]}:".encode()
    return hashlib.sha256(head + np.ascontiguousarray(rgb).tobytes()).hexdigest()


def flipped(rgb: np.ndarray, flip: str) -> np.ndarray:
    return rgb if flip == "none" else cv2.flip(rgb, _FLIP_CODES[flip])


def flip_hashes(work: np.ndarray) -> list[tuple[str, str, str]]:
    """(flip, pHash, dHash) of the working copy and its mirrored / flipped versions,
    computed as inspection computes a source's."""
    found = []
    for flip in FLIPS:
        thumb = hashing.thumbnail(np.ascontiguousarray(flipped(work, flip)))
        found.append((flip, hashing.phash(thumb), hashing.dhash(thumb)))
    return found


FAST_THRESHOLDS = (20, 5)  # corner contrast; the second for images with few corners


def _orb(count: int, threshold: int):
    detectors = getattr(_LOCAL, "orb", None)
    if detectors is None:
        detectors = _LOCAL.orb = {}
    if (count, threshold) not in detectors:
        detectors[count, threshold] = cv2.ORB_create(
            nfeatures=count, scaleFactor=1.2, nlevels=8, edgeThreshold=15, patchSize=31,
            fastThreshold=threshold)
    return detectors[count, threshold]


def features(work: np.ndarray, count: int = FEATURES) -> tuple[np.ndarray, np.ndarray]:
    """(N x 2 float32 keypoint positions, N x 32 uint8 ORB descriptors), N <= count, of
    an RGB working copy; N is 0 for an image without corners."""
    grey = cv2.cvtColor(np.ascontiguousarray(work), cv2.COLOR_RGB2GRAY)
    for threshold in FAST_THRESHOLDS:  # low-contrast images: again, with a lower one
        points, descriptors = _orb(count, threshold).detectAndCompute(grey, None)
        if len(points) >= FEATURES // 4:
            break
    if descriptors is None or not points:
        return np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8)
    xy = np.array([p.pt for p in points], np.float32)
    return xy, descriptors


SCALES = (1.0, 1 / 3, 1 / 9)  # an excluded image's features: ORB's pyramid spans ~3.6x
MIN_SIDE = 48  # smaller scaled copies have no usable corners


def features_at_scales(work: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`features` of the working copy and of its 1/3 and 1/9 copies, positions in the
    working copy's coordinates: a crop of a source many times larger still matches."""
    points, descriptors = [], []
    for scale in SCALES:
        size = (round(work.shape[1] * scale), round(work.shape[0] * scale))
        if min(size) < MIN_SIDE:
            break
        copy = work if scale == 1 else cv2.resize(work, size, interpolation=cv2.INTER_AREA)
        xy, desc = features(copy)
        points.append(xy * np.float32(work.shape[1] / size[0]))
        descriptors.append(desc)
    return np.vstack(points), np.vstack(descriptors)
