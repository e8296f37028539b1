"""Degradations: one implementation for offline pairs and online training inputs.

Each kind is ``sample(rng, config) -> params`` (a small JSON-able dict) and
``apply(image, params) -> image`` on float32 HxWx3 in [0, 1]; kinds, ranges: README.md.
"""

from .convert import check_image, to_float, to_uint8
from .policy import POLICIES, policy_apply, policy_sample, resolve_policy
from .registry import (
    KINDS,
    Kind,
    apply,
    apply_chain,
    apply_chain_with_aux,
    apply_with_aux,
    get,
    register,
    sample,
)
from .seeding import rng_for

__all__ = [
    "KINDS", "Kind", "POLICIES", "apply", "apply_chain", "apply_chain_with_aux",
    "apply_with_aux", "check_image", "get", "policy_apply", "policy_sample", "register",
    "resolve_policy", "rng_for", "sample", "to_float", "to_uint8",
]
