"""Per-sample pure functions of the training loader: crops, the 8 flips/rotations,
the pre-training pair (policy input from a clean patch), the tensor layout."""

from __future__ import annotations

import numpy as np

from irdata import degrade

FLIP_ROTATE_MODES = 8


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


def augment(rng: np.random.Generator, images: list[np.ndarray], size: int
            ) -> list[np.ndarray]:
    """Random crop plus a random flip/rotation, the same for every image of a sample."""
    mode = int(rng.integers(0, FLIP_ROTATE_MODES))
    return [flip_rotate(image, mode) for image in random_crop(rng, images, size)]


def to_tensor_layout(image: np.ndarray) -> np.ndarray:
    """HxWx3 float32 -> 3xHxW float32 (contiguous), ready for torch.from_numpy."""
    return np.ascontiguousarray(image.transpose(2, 0, 1))


def pretrain_pair(rng: np.random.Generator, gt_uint8: np.ndarray, crop: int,
                  policy: dict | None) -> tuple[np.ndarray, np.ndarray, list]:
    """(input, target, steps) for pre-training: augmented gt and its policy input."""
    (gt,) = augment(rng, [gt_uint8], crop)
    target = degrade.to_float(gt)
    steps = degrade.policy_sample(rng, policy)
    return degrade.policy_apply(target, steps), target, steps
