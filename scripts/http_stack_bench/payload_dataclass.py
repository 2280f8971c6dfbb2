"""The same payloads as frozen, slotted dataclasses (berthing.model's style), validated by hand.

Decoding is ``json.loads`` or ``orjson.loads`` followed by the checks the schema makes;
encoding is ``json.dumps(asdict(...))`` or ``orjson.dumps`` (which knows dataclasses).
"""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from collections.abc import Callable
from functools import lru_cache

from shared import (
    GROUP_PATTERN,
    RC_PATTERN,
    ApiError,
    CandidateQuery,
    candidate_rows,
)

_RC = re.compile(RC_PATTERN)
_GROUP = re.compile(GROUP_PATTERN)
_PUT_FIELDS = frozenset(
    {"allocations", "project_id", "user_id", "consumer_generation", "consumer_type", "mappings"}
)
_REQUIRED = _PUT_FIELDS - {"mappings"}


@dataclasses.dataclass(frozen=True, slots=True)
class ProviderAllocation:
    resources: dict[str, int]
    generation: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class AllocationsPut:
    allocations: dict[uuid.UUID, ProviderAllocation]
    project_id: str
    user_id: str
    consumer_generation: int | None
    consumer_type: str
    mappings: dict[str, list[uuid.UUID]] | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class ResourceUse:
    capacity: int
    used: int


@dataclasses.dataclass(frozen=True, slots=True)
class ProviderSummary:
    resources: dict[str, ResourceUse]
    traits: list[str]
    parent_provider_uuid: str | None
    root_provider_uuid: str


@dataclasses.dataclass(frozen=True, slots=True)
class ProviderResources:
    resources: dict[str, int]


@dataclasses.dataclass(frozen=True, slots=True)
class AllocationRequest:
    allocations: dict[str, ProviderResources]
    mappings: dict[str, list[str]]


@dataclasses.dataclass(frozen=True, slots=True)
class Candidates:
    allocation_requests: list[AllocationRequest]
    provider_summaries: dict[str, ProviderSummary]


def _bad(detail: str) -> ApiError:
    return ApiError(400, "Bad Request", f"JSON does not validate: {detail}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _name(value: object, field: str, pattern: re.Pattern[str] | None = None) -> str:
    if not isinstance(value, str) or not 1 <= len(value) <= 255:
        raise _bad(f"{field} must be a string of 1 to 255 characters")
    if pattern is not None and not pattern.fullmatch(value):
        raise _bad(f"{field} {value!r} does not match {pattern.pattern}")
    return value


def _provider_allocation(value: object) -> ProviderAllocation:
    if not isinstance(value, dict) or not value.keys() <= {"resources", "generation"}:
        raise _bad("a provider's allocation has only 'resources' and 'generation'")
    resources, generation = value.get("resources"), value.get("generation")
    if not isinstance(resources, dict) or not resources:
        raise _bad("'resources' must be a non-empty object")
    for rc, amount in resources.items():
        if not _RC.fullmatch(rc) or not _is_int(amount) or amount < 1:
            raise _bad(f"{rc}: {amount!r} is not a resource class and an amount >= 1")
    if generation is not None and not _is_int(generation):
        raise _bad("'generation' must be an integer")
    return ProviderAllocation(resources, generation)


def _uuid(value: object) -> uuid.UUID:
    try:
        return uuid.UUID(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, AttributeError):
        raise _bad(f"{value!r} is not a uuid") from None


def _mappings(value: object) -> dict[str, list[uuid.UUID]] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _bad("'mappings' must be an object")
    out = {}
    for group, uuids in value.items():
        if not _GROUP.fullmatch(group) or not isinstance(uuids, list) or not uuids:
            raise _bad(f"mapping {group!r} must be a suffix and a non-empty list")
        out[group] = [_uuid(u) for u in uuids]
    return out


def from_document(doc: object) -> AllocationsPut:
    """Check a decoded body as the JSON Schema would, and build the typed value."""
    if not isinstance(doc, dict) or not doc.keys() <= _PUT_FIELDS or not doc.keys() >= _REQUIRED:
        raise _bad(f"the body must have exactly the fields {sorted(_REQUIRED)} (+ mappings)")
    allocations = doc["allocations"]
    if not isinstance(allocations, dict):
        raise _bad("'allocations' must be an object")
    generation = doc["consumer_generation"]
    if generation is not None and not _is_int(generation):
        raise _bad("'consumer_generation' must be an integer or null")
    return AllocationsPut(
        allocations={_uuid(rp): _provider_allocation(v) for rp, v in allocations.items()},
        project_id=_name(doc["project_id"], "project_id"),
        user_id=_name(doc["user_id"], "user_id"),
        consumer_generation=generation,
        consumer_type=_name(doc["consumer_type"], "consumer_type", _RC),
        mappings=_mappings(doc.get("mappings")),
    )


def make_decoder(loads: Callable[[bytes], object]) -> Callable[[bytes], AllocationsPut]:
    """``json.loads`` or ``orjson.loads`` followed by the hand-written checks."""

    def decode_put(body: bytes) -> AllocationsPut:
        try:
            doc = loads(body)
        except ValueError as exc:  # json.JSONDecodeError and orjson.JSONDecodeError
            raise ApiError(400, "Bad Request", f"Malformed JSON: {exc}") from exc
        return from_document(doc)

    return decode_put


decode_put_json = make_decoder(json.loads)


def encode_json(value: object) -> bytes:
    """The stdlib way: dataclasses to dicts, then ``json.dumps``."""
    return json.dumps(dataclasses.asdict(value), separators=(",", ":")).encode()  # type: ignore[call-overload]


@lru_cache(maxsize=16)
def build_candidates(limit: int) -> Candidates:
    """The typed answer for ``limit`` candidates, built once (the store is not measured)."""
    requests, summaries = [], {}
    for row in candidate_rows(limit):
        wanted = {"VCPU": 1, "MEMORY_MB": 512}
        requests.append(
            AllocationRequest(
                allocations={row.uuid: ProviderResources(wanted)}, mappings={"": [row.uuid]}
            )
        )
        summaries[row.uuid] = ProviderSummary(
            resources={rc: ResourceUse(cap, used) for rc, cap, used in row.resources},
            traits=list(row.traits),
            parent_provider_uuid=None,
            root_provider_uuid=row.uuid,
        )
    return Candidates(requests, summaries)


def find_candidates(query: CandidateQuery) -> Candidates:
    """Stands in for the store's candidate query."""
    return build_candidates(min(query.limit or 10, 10))
