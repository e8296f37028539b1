"""Generators seeded by (run seed, sample key, variant) through a stable hash: the same
stream in any process, worker or order (no Python ``hash``, no global state)."""

from __future__ import annotations

import hashlib

import numpy as np

SEED_BOUND = 2 ** 31  # seeds stored in params fit OpenCV's int seed and JSON


def rng_for(seed: int, key: str, variant: int = 0) -> np.random.Generator:
    """PCG64 generator from sha256 of ``"{seed}|{key}|{variant}"``."""
    digest = hashlib.sha256(f"{int(seed)}|{key}|{int(variant)}".encode()).digest()
    entropy = int.from_bytes(digest, "big")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))


def draw_seed(rng: np.random.Generator) -> int:
    """A seed for an ``apply`` step, in [0, 2**31)."""
    return int(rng.integers(0, SEED_BOUND))
