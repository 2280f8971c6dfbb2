"""The Placement payloads as msgspec Structs: the schema is the type, validated while decoding."""

from __future__ import annotations

import uuid
from functools import lru_cache
from typing import Annotated

import msgspec
from msgspec import Meta, Struct
from shared import (
    GROUP_PATTERN,
    MAX_VERSION,
    MIN_VERSION,
    RC_PATTERN,
    ApiError,
    CandidateQuery,
    candidate_rows,
)

ResourceClass = Annotated[str, Meta(pattern=RC_PATTERN, max_length=255)]
Amount = Annotated[int, Meta(ge=1)]
Name = Annotated[str, Meta(min_length=1, max_length=255)]


class ProviderAllocation(Struct, frozen=True, forbid_unknown_fields=True):
    resources: Annotated[dict[ResourceClass, Amount], Meta(min_length=1)]
    generation: int | None = None


class AllocationsPut(Struct, frozen=True, forbid_unknown_fields=True):
    """``PUT /allocations/{consumer_uuid}`` at 1.38-1.39; provider uuids parsed as UUIDs."""

    allocations: dict[uuid.UUID, ProviderAllocation]
    project_id: Name
    user_id: Name
    consumer_generation: int | None
    consumer_type: Annotated[str, Meta(pattern=RC_PATTERN, min_length=1, max_length=255)]
    mappings: (
        dict[
            Annotated[str, Meta(pattern=GROUP_PATTERN)],
            Annotated[list[uuid.UUID], Meta(min_length=1)],
        ]
        | None
    ) = None


class ResourceUse(Struct, frozen=True):
    capacity: int
    used: int


class ProviderSummary(Struct, frozen=True):
    resources: dict[str, ResourceUse]
    traits: list[str]
    parent_provider_uuid: str | None
    root_provider_uuid: str


class ProviderResources(Struct, frozen=True):
    resources: dict[str, int]


class AllocationRequest(Struct, frozen=True):
    allocations: dict[str, ProviderResources]
    mappings: dict[str, list[str]]


class Candidates(Struct, frozen=True):
    allocation_requests: list[AllocationRequest]
    provider_summaries: dict[str, ProviderSummary]


class Link(Struct, frozen=True):
    rel: str
    href: str


class VersionDoc(Struct, frozen=True):
    id: str
    max_version: str
    min_version: str
    status: str
    links: list[Link]


class Versions(Struct, frozen=True):
    versions: list[VersionDoc]


VERSIONS = Versions(
    [
        VersionDoc(
            id=f"v{MIN_VERSION[0]}.{MIN_VERSION[1]}",
            max_version=f"{MAX_VERSION[0]}.{MAX_VERSION[1]}",
            min_version=f"{MIN_VERSION[0]}.{MIN_VERSION[1]}",
            status="CURRENT",
            links=[Link(rel="self", href="")],
        )
    ]
)

_encoder = msgspec.json.Encoder()
_put_decoder = msgspec.json.Decoder(AllocationsPut)
encode = _encoder.encode


def decode_put(body: bytes) -> AllocationsPut:
    """Decode and validate in one pass; a schema error is Placement's 400."""
    try:
        return _put_decoder.decode(body)
    except msgspec.ValidationError as exc:
        raise ApiError(400, "Bad Request", f"JSON does not validate: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise ApiError(400, "Bad Request", f"Malformed JSON: {exc}") from exc


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
