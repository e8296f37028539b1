"""Config values -> drawn parameters: a number or string is fixed, ``[lo, hi]`` uniform
(integers: inclusive), ``{"choice": [a, b, ...]}`` one of the items; ``resolve`` merges a
config over a kind's ``DEFAULTS`` and rejects unknown keys."""

from __future__ import annotations

from typing import Any

import numpy as np


def resolve(defaults: dict, config: dict | None, kind: str) -> dict:
    """``defaults`` updated with ``config``; ValueError names unknown keys."""
    config = dict(config or {})
    unknown = sorted(set(config) - set(defaults))
    if unknown:
        raise ValueError(f"{kind}: unknown setting(s) {unknown}; known: {sorted(defaults)}")
    return {**defaults, **config}


def _is_range(spec: Any) -> bool:
    return isinstance(spec, (list, tuple)) and len(spec) == 2


def _choice(rng: np.random.Generator, spec: dict) -> Any:
    items = list(spec["choice"])
    if not items:
        raise ValueError("empty choice")
    return items[int(rng.integers(0, len(items)))]


def _drawn(rng: np.random.Generator, spec: Any, cast, within):
    """A fixed value, a choice, or `within(lo, hi)` for a ``[lo, hi]`` range; cast."""
    if isinstance(spec, dict):
        return cast(_choice(rng, spec))
    if _is_range(spec):
        lo, hi = cast(spec[0]), cast(spec[1])
        if hi < lo:
            raise ValueError(f"bad range {spec}")
        return cast(within(lo, hi))
    return cast(spec)


def uniform(rng: np.random.Generator, spec: Any) -> float:
    """A float from a fixed value, a ``[lo, hi]`` range or a choice."""
    return _drawn(rng, spec, float, lambda lo, hi: lo + (hi - lo) * rng.random())


def integer(rng: np.random.Generator, spec: Any) -> int:
    """An int from a fixed value, an inclusive ``[lo, hi]`` range or a choice."""
    return _drawn(rng, spec, int, lambda lo, hi: rng.integers(lo, hi + 1))


def pick(rng: np.random.Generator, spec: Any) -> Any:
    """One item of a list (or a choice), or a fixed value as is."""
    if isinstance(spec, dict):
        return _choice(rng, spec)
    if isinstance(spec, (list, tuple)):
        return _choice(rng, {"choice": spec})
    return spec


def bounds(spec: Any) -> tuple[float, float]:
    """(lowest, highest) value a spec can produce (for tests and docs)."""
    if isinstance(spec, dict):
        return min(spec["choice"]), max(spec["choice"])
    if _is_range(spec):
        return spec[0], spec[1]
    return spec, spec
