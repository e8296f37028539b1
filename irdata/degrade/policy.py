"""Named per-sample policies: which kinds (if any) degrade a training input.

``dynet_pretrain``: with probability ``p_degrade`` one of ``degrade_kinds`` at random
strength, else with ``p_mask`` MAE-style masking, else unchanged. ``kinds`` holds per-kind
configs, e.g. ``{"mask": {"ratio": 0.5}}``; the pipeline YAML passes the same dict.
"""

from __future__ import annotations

import numpy as np

from . import ranges, registry

POLICIES: dict[str, dict] = {
    "dynet_pretrain": {
        "p_degrade": 0.5,
        "p_mask": 0.3,
        "degrade_kinds": ["gaussian_noise", "jpeg", "random_noise"],
        "kinds": {},
    },
}


def resolve_policy(config: dict | None = None) -> dict:
    """The named policy's defaults updated with ``config``, checked."""
    config = dict(config or {})
    name = config.pop("name", "dynet_pretrain")
    if name not in POLICIES:
        raise ValueError(f"unknown policy {name!r}; known: {sorted(POLICIES)}")
    base = POLICIES[name]
    unknown = sorted(set(config) - set(base))
    if unknown:
        raise ValueError(f"policy {name}: unknown setting(s) {unknown}; known: {sorted(base)}")
    policy = {**base, **config, "name": name}
    _check(policy)
    return policy


def _check(policy: dict) -> None:
    p_degrade, p_mask = float(policy["p_degrade"]), float(policy["p_mask"])
    if min(p_degrade, p_mask) < 0 or p_degrade + p_mask > 1 + 1e-9:
        raise ValueError(f"policy {policy['name']}: probabilities must be >= 0 and sum to <= 1")
    if p_degrade > 0 and not policy["degrade_kinds"]:
        raise ValueError(f"policy {policy['name']}: degrade_kinds is empty")
    for name in policy["degrade_kinds"]:
        registry.get(name)
    for name, config in policy["kinds"].items():  # unknown kinds and settings fail here
        ranges.resolve(registry.get(name).defaults, config, name)


def policy_sample(rng: np.random.Generator, config: dict | None = None) -> list[tuple[str, dict]]:
    """The steps ``[(kind, params)]`` for one sample: [] (unchanged) or one step."""
    policy = resolve_policy(config)
    draw = rng.random()
    if draw < policy["p_degrade"]:
        kinds = list(policy["degrade_kinds"])
        name = kinds[int(rng.integers(0, len(kinds)))]
    elif draw < policy["p_degrade"] + policy["p_mask"]:
        name = "mask"
    else:
        return []
    return [(name, registry.sample(name, rng, policy["kinds"].get(name)))]


def policy_apply(image: np.ndarray, steps: list[tuple[str, dict]]) -> np.ndarray:
    """The training input: ``steps`` applied to a float32 image (a copy if none)."""
    return registry.apply_chain(image, steps)
