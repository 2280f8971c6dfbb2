"""Resource class and trait names: the standard sets plus validated ``CUSTOM_*`` names.

The standard names are those of os-resource-classes and os-traits. Custom names follow
Placement's rule: ``CUSTOM_`` then upper-case letters, digits and underscores, at most
255 characters.
"""

from __future__ import annotations

import difflib
import re

import os_resource_classes
import os_traits

from berthing.model.errors import InvalidInput

__all__ = [
    "CUSTOM_PREFIX",
    "DISABLED_TRAIT",
    "SHARING_TRAIT",
    "STANDARD_RESOURCE_CLASSES",
    "STANDARD_TRAITS",
    "is_custom",
    "validate_resource_class",
    "validate_trait",
    "validate_trait_sets",
]

CUSTOM_PREFIX = "CUSTOM_"
_CUSTOM_RE = re.compile(r"^CUSTOM_[A-Z0-9_]+$")
_MAX_NAME = 255

DISABLED_TRAIT = "COMPUTE_STATUS_DISABLED"
"""A host marked down or disabled carries it; candidate queries forbid it (as in Nova)."""
SHARING_TRAIT = "MISC_SHARES_VIA_AGGREGATE"
"""A sharing provider (e.g. a storage pool) lends its inventory to its aggregates' hosts."""

# The standard names are os-resource-classes' and os-traits' (the packages Placement and
# Nova read them from), so that a Placement client's names mean the same thing here.
STANDARD_RESOURCE_CLASSES: tuple[str, ...] = tuple(os_resource_classes.STANDARDS)
STANDARD_TRAITS: tuple[str, ...] = tuple(sorted(os_traits.get_traits()))
_STANDARD_RC = frozenset(STANDARD_RESOURCE_CLASSES)
_STANDARD_TRAITS = frozenset(STANDARD_TRAITS)


def is_custom(name: str) -> bool:
    return name.startswith(CUSTOM_PREFIX)


def _validate(name: object, kind: str, standard: frozenset[str]) -> str:
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"A {kind} name must be a non-empty string, got {name!r}.")
    if len(name) > _MAX_NAME:
        raise InvalidInput(f"{kind.capitalize()} name {name[:40]}... is longer than 255.")
    if name in standard or _CUSTOM_RE.match(name):
        return name
    raise InvalidInput(f"{name!r} is not a valid {kind} name.", hint=_hint(name, kind, standard))


def _hint(name: str, kind: str, standard: frozenset[str]) -> str:
    """Point at the standard name a typo resembles (``vcpu`` -> ``VCPU``) before
    offering a custom one: a custom class that shadows a standard one is a quiet bug."""
    cleaned = _clean(name)
    custom = f"{CUSTOM_PREFIX}{cleaned or 'NAME'}"
    near = [cleaned] if cleaned in standard else difflib.get_close_matches(cleaned, standard, 1)
    if near:
        return f"Did you mean the standard {kind} {near[0]}? (A custom one would be {custom}.)"
    return (
        f"Use a standard {kind} or a custom one matching CUSTOM_[A-Z0-9_]+ "
        f"(for example {custom})."
    )


def _clean(name: str) -> str:
    return re.sub(r"[^A-Z0-9_]", "_", name.upper()).removeprefix(CUSTOM_PREFIX)


def validate_resource_class(name: object) -> str:
    """Return ``name`` if it is a standard or well-formed custom resource class."""
    return _validate(name, "resource class", _STANDARD_RC)


def validate_trait(name: object) -> str:
    """Return ``name`` if it is a standard or well-formed custom trait."""
    return _validate(name, "trait", _STANDARD_TRAITS)


def validate_trait_sets(required: frozenset[str], forbidden: frozenset[str]) -> None:
    """Every name valid, and no trait both required and forbidden."""
    for trait in required | forbidden:
        validate_trait(trait)
    both = required & forbidden
    if both:
        raise InvalidInput(
            f"Traits both required and forbidden: {', '.join(sorted(both))}.",
            hint="A provider cannot have and lack a trait; drop one side.",
        )
