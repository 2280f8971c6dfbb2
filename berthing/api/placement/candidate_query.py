"""``GET /allocation_candidates`` query strings, read as Placement reads them at each
microversion, into the candidate engine's ``CandidateRequest``.

Which keys exist when: ``resources`` 1.10, ``limit`` 1.16, ``required`` 1.17,
``member_of`` 1.21, suffixed groups and ``group_policy`` 1.25 (numbers), ``in_tree``
1.31, string suffixes 1.33 (``[a-zA-Z0-9_-]{1,64}``), ``root_required`` 1.35,
``same_subtree`` and resourceless groups 1.36. Checks run in Placement's order (the
keys, the request-wide values, the groups, then the groups as a whole), because a
request with several mistakes gets the error code of the first.

Placement's quirks kept on purpose: a repeated ``resources``/``in_tree`` keeps the last,
a repeated ``limit``/``group_policy`` the first, and only a repeated ``root_required`` is
``query.duplicate_key``; ``query.missing_value`` exists only from 1.36.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from starlette.datastructures import QueryParams

from berthing.api.errors import ApiError
from berthing.api.placement.microversion import Version
from berthing.api.placement.query import (
    BAD_VALUE,
    Aggregates,
    Traits,
    parse_aggregates,
    parse_resources,
    parse_traits,
    parse_uuid,
)
from berthing.model import CandidateRequest, Isolation, RequestGroup

__all__ = ["DUPLICATE_KEY", "MISSING_VALUE", "parse_candidate_query"]

MISSING_VALUE = "placement.query.missing_value"
DUPLICATE_KEY = "placement.query.duplicate_key"

_PREFIXES = (
    ("1.10", "resources"),
    ("1.17", "required"),
    ("1.21", "member_of"),
    ("1.31", "in_tree"),
)
_PLAIN = (
    ("1.16", "limit"),
    ("1.25", "group_policy"),
    ("1.35", "root_required"),
    ("1.36", "same_subtree"),
)
_NUMBERED = "[1-9][0-9]*"
_NAMED = "[a-zA-Z0-9_-]{1,64}"
_LIMIT = re.compile(r"^[1-9][0-9]*$")


@dataclass(slots=True)
class _Group:
    """One suffix's parameters as given, before the checks across groups."""

    resources: dict[str, int] = field(default_factory=dict)
    traits: Traits = field(default_factory=Traits)
    aggregates: Aggregates = field(default_factory=Aggregates)
    in_tree: str | None = None


@dataclass(frozen=True, slots=True)
class _Wide:
    """The request-wide parameters."""

    limit: int | None
    group_policy: Isolation | None
    root: Traits
    same_subtree: tuple[frozenset[str], ...]


def parse_candidate_query(query: QueryParams, version: Version) -> CandidateRequest:
    """The engine's request for ``query`` at ``version`` (no seed yet), or a 400 with
    Placement's code for the first thing wrong."""
    _check_keys(query, version)
    wide = _request_wide(query, version)
    groups = _groups(query, version)
    _check_groups(groups, wide, version)
    numbered = [s for s in groups if s]
    if len(numbered) > 1 and wide.group_policy is None:
        raise ApiError(
            400, 'The "group_policy" parameter is required with more than one suffixed group.'
        )
    return CandidateRequest(
        tuple(_engine_group(suffix, g) for suffix, g in groups.items()),
        isolation=wide.group_policy or Isolation.NONE,
        same_subtree=wide.same_subtree,
        root_required=wide.root.required,
        root_forbidden=wide.root.forbidden,
        limit=wide.limit,
        spread_trees=version.at_least("1.29"),
    )


# -- keys ------------------------------------------------------------------------------


def _key_pattern(version: Version) -> re.Pattern[str]:
    prefixes = "|".join(name for since, name in _PREFIXES if version.at_least(since))
    if not version.at_least("1.25"):
        return re.compile(f"^({prefixes})()$")
    suffix = _NAMED if version.at_least("1.33") else _NUMBERED
    return re.compile(f"^({prefixes})({suffix})?$")


def _check_keys(query: QueryParams, version: Version) -> None:
    """Every key known at ``version`` (Placement's schema: no other properties)."""
    pattern = _key_pattern(version)
    plain = {name for since, name in _PLAIN if version.at_least(since)}
    unknown = sorted({k for k in query if not pattern.match(k)} - plain)
    if unknown:
        raise ApiError(
            400,
            f"Invalid query string parameters: {', '.join(unknown)} not allowed at"
            f" microversion {version}.",
        )


def _split_key(key: str, pattern: re.Pattern[str]) -> tuple[str, str] | None:
    match = pattern.match(key)
    return None if match is None else (match[1], match[2] or "")


# -- request-wide parameters -----------------------------------------------------------


def _request_wide(query: QueryParams, version: Version) -> _Wide:
    return _Wide(
        _limit(query.getlist("limit")),
        _group_policy(query.getlist("group_policy")),
        _root_required(query.getlist("root_required"), version),
        _same_subtree(query.getlist("same_subtree")),
    )


def _limit(values: list[str]) -> int | None:
    for value in values:
        if not _LIMIT.match(value):
            raise ApiError(400, f"Invalid query string parameter limit={value!r}: not >= 1.")
    return int(values[0]) if values else None


def _group_policy(values: list[str]) -> Isolation | None:
    for value in values:
        if value not in (Isolation.NONE, Isolation.ISOLATE):
            raise ApiError(
                400, f"Invalid query string parameter group_policy={value!r}: none or isolate."
            )
    return Isolation(values[0]) if values else None


def _root_required(values: list[str], version: Version) -> Traits:
    if not values:
        return Traits()
    if len(values) > 1:
        raise ApiError(
            400, "Query parameter 'root_required' may be given only once.", DUPLICATE_KEY
        )
    if values[0].startswith("in:"):
        raise ApiError(400, "root_required does not take the 'in:' form.")
    # Parsed as a 1.38 value: no 'in:', '!' allowed (root_required came after 1.22).
    return parse_traits("root_required", values, Version.of("1.38"), conflict_code=BAD_VALUE)


def _same_subtree(values: list[str]) -> tuple[frozenset[str], ...]:
    found = []
    for value in values:
        suffixes = frozenset(s.strip() for s in value.split(","))
        if "" in suffixes:
            raise ApiError(
                400, "same_subtree cannot name the unsuffixed group (or be empty).", BAD_VALUE
            )
        found.append(suffixes)
    return tuple(found)


# -- request groups --------------------------------------------------------------------


def _groups(query: QueryParams, version: Version) -> dict[str, _Group]:
    """Each suffix's group, in the order the query first names it."""
    pattern = _key_pattern(version)
    groups: dict[str, _Group] = {}
    for key in dict.fromkeys(query.keys()):
        split = _split_key(key, pattern)
        if split is None:
            continue
        prefix, suffix = split
        _read_param(groups.setdefault(suffix, _Group()), prefix, key, query.getlist(key), version)
    return groups


def _read_param(group: _Group, prefix: str, key: str, values: list[str], version: Version) -> None:
    if prefix == "resources":
        group.resources = [parse_resources(key, v) for v in values][-1]
    elif prefix == "required":
        group.traits = _traits(key, values, version)
    elif prefix == "member_of":
        group.aggregates = parse_aggregates(key, values, version)
    else:
        group.in_tree = [parse_uuid(key, v.strip()) for v in values][-1]


def _traits(key: str, values: list[str], version: Version) -> Traits:
    """Required, any-of and forbidden traits; a trait forbidden in the same group is
    dropped from an any-of set (``in:A,B`` with ``!A`` means B), and an any-of set that
    is entirely forbidden can never be met, which Placement refuses."""
    traits = parse_traits(key, values, version)
    any_of = []
    for alternatives in traits.any_of:
        left = alternatives - traits.forbidden
        if not left:
            raise ApiError(
                400, f"{key}: every trait of in:{','.join(sorted(alternatives))} is forbidden."
            )
        any_of.append(left)
    return Traits(traits.required, traits.forbidden, tuple(any_of))


def _check_groups(groups: dict[str, _Group], wide: _Wide, version: Version) -> None:
    if not version.at_least("1.36"):
        if not groups or not all(g.resources for g in groups.values()):
            raise ApiError(400, "Every request group needs resources (resources or resources$S).")
        return
    resourceless = {s for s, g in groups.items() if not g.resources}
    if len(resourceless) == len(groups):
        raise ApiError(400, "At least one resources or resources$S parameter.", MISSING_VALUE)
    in_subtrees = frozenset().union(*wide.same_subtree)
    if resourceless - in_subtrees:
        bad = ", ".join(sorted(resourceless - in_subtrees))
        raise ApiError(400, f"Groups without resources must be in same_subtree: {bad}.", BAD_VALUE)
    if in_subtrees - set(groups):
        bad = ", ".join(sorted(in_subtrees - set(groups)))
        raise ApiError(400, f"same_subtree names groups that do not exist: {bad}.", BAD_VALUE)


def _engine_group(suffix: str, g: _Group) -> RequestGroup:
    return RequestGroup(
        suffix=suffix,
        resources=g.resources,
        required=g.traits.required,
        any_of=g.traits.any_of,
        forbidden=g.traits.forbidden,
        member_of=g.aggregates.member_of,
        forbidden_aggregates=g.aggregates.forbidden,
        in_tree=g.in_tree,
    )
