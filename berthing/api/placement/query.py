"""Query-string values as Placement reads them, by microversion.

``resources=VCPU:1,MEMORY_MB:512``; ``member_of=AGG``, ``in:A,B`` (1.3), repeated =
all of them (1.24), ``!AGG`` and ``!in:A,B`` forbidden (1.32); ``required=T1,!T2``
(forbidden from 1.22), ``in:T1,T2`` and repeated (1.39). Every bad value is a 400
naming the parameter, with Placement's code for it: ``placement.undefined_code``, as
Placement's own parsers of these values give (checked against Placement 16.0); callers
pass ``placement.query.bad_value`` where Placement uses it (root_required conflicts).
"""

from __future__ import annotations

import uuid as uuidlib
from dataclasses import dataclass, field

from berthing.api.errors import UNDEFINED, ApiError
from berthing.api.placement.microversion import Version
from berthing.model import BerthingError, validate_resource_class, validate_trait

__all__ = [
    "BAD_VALUE",
    "Aggregates",
    "Traits",
    "check_known",
    "parse_aggregates",
    "parse_resources",
    "parse_traits",
    "parse_uuid",
]

BAD_VALUE = "placement.query.bad_value"


def _bad(param: str, value: str, why: str, code: str = UNDEFINED) -> ApiError:
    return ApiError(400, f"Invalid query string parameter {param}={value!r}: {why}.", code)


def check_known(params: list[str], known: set[str]) -> None:
    unknown = sorted(set(params) - known)
    if unknown:
        raise ApiError(
            400,
            f"Invalid query string parameters: {', '.join(unknown)} not allowed at this version."
            f" Known: {', '.join(sorted(known))}.",
        )


def parse_uuid(param: str, value: str) -> str:
    try:
        return str(uuidlib.UUID(value))
    except ValueError as exc:
        raise _bad(param, value, "not a uuid") from exc


def parse_resources(param: str, value: str) -> dict[str, int]:
    if not value:
        raise _bad(param, value, "empty")
    out: dict[str, int] = {}
    for part in value.split(","):
        rc, sep, amount = part.partition(":")
        if not sep or not amount.strip().isdigit():
            raise _bad(param, value, f"{part!r} is not CLASS:AMOUNT")
        try:
            validate_resource_class(rc.strip())
        except BerthingError as exc:
            raise _bad(param, value, exc.message) from exc
        if int(amount) < 1:
            raise _bad(param, value, f"the amount of {rc} must be at least 1")
        if rc.strip() in out:
            raise _bad(param, value, f"{rc} appears twice")
        out[rc.strip()] = int(amount)
    return out


@dataclass(frozen=True, slots=True)
class Aggregates:
    member_of: tuple[frozenset[str], ...] = ()
    forbidden: frozenset[str] = frozenset()


def parse_aggregates(param: str, values: list[str], version: Version) -> Aggregates:
    if len(values) > 1 and not version.at_least("1.24"):
        raise _bad(param, ",".join(values), "repeated before microversion 1.24")
    member_of: list[frozenset[str]] = []
    forbidden: set[str] = set()
    for value in values:
        negated = value.startswith("!")
        if negated and not version.at_least("1.32"):
            raise _bad(param, value, "forbidden aggregates need microversion 1.32")
        body = value[1:] if negated else value
        uuids = _aggregate_list(param, value, body)
        if negated:
            forbidden.update(uuids)
        else:
            member_of.append(frozenset(uuids))
    return Aggregates(tuple(member_of), frozenset(forbidden))


def _aggregate_list(param: str, value: str, body: str) -> list[str]:
    if body.startswith("in:"):
        items = body[3:].split(",")
        if any(i.startswith("!") for i in items):
            raise _bad(param, value, "'!' goes before 'in:', not inside it")
        return [parse_uuid(param, i) for i in items]
    if "," in body:
        raise _bad(param, value, "several aggregates need 'in:'")
    return [parse_uuid(param, body)]


@dataclass(frozen=True, slots=True)
class Traits:
    required: frozenset[str] = frozenset()
    forbidden: frozenset[str] = frozenset()
    any_of: tuple[frozenset[str], ...] = field(default_factory=tuple)


def parse_traits(
    param: str,
    values: list[str],
    version: Version,
    forbidden_since: str = "1.22",
    conflict_code: str = UNDEFINED,
) -> Traits:
    if len(values) > 1 and not version.at_least("1.39"):
        values = values[-1:]  # Placement keeps the last before 1.39
    required: set[str] = set()
    forbidden: set[str] = set()
    any_of: list[frozenset[str]] = []
    for value in values:
        if value.startswith("in:"):
            if not version.at_least("1.39"):
                raise _bad(param, value, "'in:' needs microversion 1.39")
            any_of.append(frozenset(_trait(param, value, t) for t in value[3:].split(",")))
            continue
        for item in value.split(","):
            if item.startswith("!"):
                if not version.at_least(forbidden_since):
                    raise _bad(
                        param, value, f"forbidden traits need microversion {forbidden_since}"
                    )
                forbidden.add(_trait(param, value, item.lstrip("!")))
            else:
                required.add(_trait(param, value, item))
    if required & forbidden:
        raise _bad(param, ",".join(values), "a trait is both required and forbidden", conflict_code)
    return Traits(frozenset(required), frozenset(forbidden), tuple(any_of))


def _trait(param: str, value: str, name: str) -> str:
    if not name:
        raise _bad(param, value, "an empty trait name")
    try:
        return validate_trait(name)
    except BerthingError as exc:
        raise _bad(param, value, exc.message) from exc
