"""Per-sample pure functions of the training loader: crops, the 8 flips/rotations,
the pre-training pair (policy input from a clean patch), the tensor layout."""

from __future__ import annotations

import numpy as np

from irdata import degrade

FLIP_ROTATE_MODES = 8
# data.augment -> the flip/rotation modes drawn from (mode 0 is the identity)
AUGMENT_MODES = {"all": tuple(range(FLIP_ROTATE_MODES)),
                 "no_identity": tuple(range(1, FLIP_ROTATE_MODES)), "none": (0,)}


def random_crop(rng: np.random.Generator, images: list[np.ndarray], size: int
                ) -> list[np.ndarray]:
    """The same size x size window of each (equally sized) image."""
    height, width = images[0].shape[:2]
    if min(height, width) < size:
        raise ValueError(f"crop {size} larger than the {width}x{height} patch")
    y = int(rng.integers(0, height - size + 1))
    x = int(rng.integers(0, width - size + 1))
    return [image[y:y + size, x:x + size] for image in images]


def flip_rotate(image: np.ndarray, mode: int) -> np.ndarray:
    """One of the 8 dihedral transforms: rotate by 90 * (mode % 4), flip if mode >= 4."""
    out = np.rot90(image, k=mode % 4)
    return np.ascontiguousarray(out[:, ::-1] if mode >= 4 else out)


def augment(rng: np.random.Generator, images: list[np.ndarray], size: int,
            modes: tuple[int, ...] = AUGMENT_MODES["all"]) -> list[np.ndarray]:
    """Random crop plus a flip/rotation drawn from `modes`, the same for every image of
    a sample."""
    mode = modes[int(rng.integers(0, len(modes)))]
    return [flip_rotate(image, mode) for image in random_crop(rng, images, size)]


def quantize(image: np.ndarray, how: str) -> np.ndarray:
    """A [0, 1] float image on the 8-bit grid: "round", "truncate" (numpy's astype(uint8)
    of the 0-255 values, as the official DyNet loader stores its noisy inputs) or "off"."""
    if how == "off":
        return image
    scaled = image * np.float32(255.0)
    grid = np.rint(scaled) if how == "round" else np.floor(scaled + np.float32(1e-4))
    return (grid / np.float32(255.0)).astype(image.dtype, copy=False)


def to_tensor_layout(image: np.ndarray) -> np.ndarray:
    """HxWx3 float32 -> 3xHxW float32 (contiguous), ready for torch.from_numpy."""
    return np.ascontiguousarray(image.transpose(2, 0, 1))


def pretrain_pair(rng: np.random.Generator, gt_uint8: np.ndarray, crop: int,
                  policy: dict | None, modes: tuple[int, ...] = AUGMENT_MODES["all"]
                  ) -> tuple[np.ndarray, np.ndarray, list]:
    """(input, target, steps) for pre-training: augmented gt and its policy input."""
    (gt,) = augment(rng, [gt_uint8], crop, modes)
    target = degrade.to_float(gt)
    steps = degrade.policy_sample(rng, policy)
    return degrade.policy_apply(target, steps), target, steps
