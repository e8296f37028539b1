"""Kinds by name, and the chain that applies several in order.

A kind is any object with ``NAME``, ``DEFAULTS``, ``LEVELS`` (for previews), ``sample`` and
``apply``; kinds with an aux target (rain layer, mask, transmission) also have
``apply_with_aux(image, params) -> (image, aux)``, aux HxW float32 in [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import blur, gaussian_noise, haze, jpeg, mask, rain, random_noise
from .convert import check_image


@dataclass(frozen=True)
class Kind:
    """One registered degradation."""

    name: str
    sample: Callable[[np.random.Generator, dict | None], dict]
    apply: Callable[[np.ndarray, dict], np.ndarray]
    defaults: dict = field(default_factory=dict)
    levels: dict = field(default_factory=dict)
    apply_with_aux: Callable[[np.ndarray, dict], tuple[np.ndarray, np.ndarray]] | None = None


KINDS: dict[str, Kind] = {}


def register(module: Any) -> Kind:
    """Register a kind module (or object) under its ``NAME``; returns the Kind."""
    kind = Kind(name=module.NAME, sample=module.sample, apply=module.apply,
                defaults=dict(getattr(module, "DEFAULTS", {})),
                levels=dict(getattr(module, "LEVELS", {})),
                apply_with_aux=getattr(module, "apply_with_aux", None))
    KINDS[kind.name] = kind
    return kind


def get(name: str) -> Kind:
    """The kind called ``name``; ValueError lists the known ones."""
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown degradation {name!r}; known: {sorted(KINDS)}") from None


def sample(name: str, rng: np.random.Generator, config: dict | None = None) -> dict:
    """Params of kind ``name`` drawn from ``rng`` under ``config``."""
    return get(name).sample(rng, config)


def apply(name: str, image: np.ndarray, params: dict) -> np.ndarray:
    """Kind ``name`` applied to a float32 HxWx3 image."""
    return get(name).apply(check_image(image), params)


def apply_with_aux(name: str, image: np.ndarray, params: dict
                   ) -> tuple[np.ndarray, np.ndarray | None]:
    """(image, aux); aux is None for kinds without an auxiliary target."""
    kind = get(name)
    image = check_image(image)
    if kind.apply_with_aux is None:
        return kind.apply(image, params), None
    return kind.apply_with_aux(image, params)


def apply_chain(image: np.ndarray, steps: Iterable[tuple[str, dict]]) -> np.ndarray:
    """Apply ``[(kind, params), ...]`` in order; an empty chain returns a copy."""
    out = check_image(image).copy()
    for name, params in steps:
        out = get(name).apply(out, params)
    return out


def apply_chain_with_aux(image: np.ndarray, steps: Iterable[tuple[str, dict]]
                         ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(image, {kind: aux}) for a chain; only kinds with an aux appear."""
    out, aux = check_image(image).copy(), {}
    for name, params in steps:
        out, extra = apply_with_aux(name, out, params)
        if extra is not None:
            aux[name] = extra
    return out, aux


for _module in (gaussian_noise, random_noise, jpeg, rain, haze, blur, mask):
    register(_module)
