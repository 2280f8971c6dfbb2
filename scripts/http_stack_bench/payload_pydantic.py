"""The same payloads as pydantic v2 models (what FastAPI uses natively)."""

from __future__ import annotations

import uuid
from functools import lru_cache
from typing import Annotated

import pydantic
from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints
from shared import (
    GROUP_PATTERN,
    MAX_VERSION,
    MIN_VERSION,
    RC_PATTERN,
    ApiError,
    CandidateQuery,
    candidate_rows,
)

ResourceClass = Annotated[str, StringConstraints(pattern=RC_PATTERN, max_length=255)]
Amount = Annotated[int, Field(ge=1)]
# Strict models refuse "1" for 1 (as Placement's JSON Schema does); a uuid arrives as a
# string from JSON and, under FastAPI, as a Python str: lax for that type only.
Uuid = Annotated[uuid.UUID, Strict(False)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=255)]
_STRICT = ConfigDict(extra="forbid", frozen=True, strict=True)
_FROZEN = ConfigDict(frozen=True)


class ProviderAllocation(BaseModel):
    model_config = _STRICT
    resources: Annotated[dict[ResourceClass, Amount], Field(min_length=1)]
    generation: int | None = None


class AllocationsPut(BaseModel):
    """``PUT /allocations/{consumer_uuid}`` at 1.38-1.39 (strict: no "1" for 1, as JSON Schema)."""

    model_config = _STRICT
    allocations: dict[Uuid, ProviderAllocation]
    project_id: Name
    user_id: Name
    consumer_generation: int | None
    consumer_type: Annotated[
        str, StringConstraints(pattern=RC_PATTERN, min_length=1, max_length=255)
    ]
    mappings: (
        dict[
            Annotated[str, StringConstraints(pattern=GROUP_PATTERN)],
            Annotated[list[Uuid], Field(min_length=1)],
        ]
        | None
    ) = None


class ResourceUse(BaseModel):
    model_config = _FROZEN
    capacity: int
    used: int


class ProviderSummary(BaseModel):
    model_config = _FROZEN
    resources: dict[str, ResourceUse]
    traits: list[str]
    parent_provider_uuid: str | None
    root_provider_uuid: str


class ProviderResources(BaseModel):
    model_config = _FROZEN
    resources: dict[str, int]


class AllocationRequest(BaseModel):
    model_config = _FROZEN
    allocations: dict[str, ProviderResources]
    mappings: dict[str, list[str]]


class Candidates(BaseModel):
    model_config = _FROZEN
    allocation_requests: list[AllocationRequest]
    provider_summaries: dict[str, ProviderSummary]


class Link(BaseModel):
    model_config = _FROZEN
    rel: str
    href: str


class VersionDoc(BaseModel):
    model_config = _FROZEN
    id: str
    max_version: str
    min_version: str
    status: str
    links: list[Link]


class Versions(BaseModel):
    model_config = _FROZEN
    versions: list[VersionDoc]


VERSIONS = Versions(
    versions=[
        VersionDoc(
            id=f"v{MIN_VERSION[0]}.{MIN_VERSION[1]}",
            max_version=f"{MAX_VERSION[0]}.{MAX_VERSION[1]}",
            min_version=f"{MIN_VERSION[0]}.{MIN_VERSION[1]}",
            status="CURRENT",
            links=[Link(rel="self", href="")],
        )
    ]
)


def decode_put(body: bytes) -> AllocationsPut:
    """Parse and validate in pydantic-core (Rust); a schema error is Placement's 400."""
    try:
        return AllocationsPut.model_validate_json(body)
    except pydantic.ValidationError as exc:
        raise ApiError(400, "Bad Request", f"JSON does not validate: {exc}") from exc


def encode(value: BaseModel) -> bytes:
    return value.model_dump_json().encode()


@lru_cache(maxsize=16)
def build_candidates(limit: int) -> Candidates:
    """The typed answer for ``limit`` candidates, built once (the store is not measured)."""
    requests, summaries = [], {}
    for row in candidate_rows(limit):
        wanted = {"VCPU": 1, "MEMORY_MB": 512}
        requests.append(
            AllocationRequest(
                allocations={row.uuid: ProviderResources(resources=wanted)},
                mappings={"": [row.uuid]},
            )
        )
        summaries[row.uuid] = ProviderSummary(
            resources={rc: ResourceUse(capacity=c, used=u) for rc, c, u in row.resources},
            traits=list(row.traits),
            parent_provider_uuid=None,
            root_provider_uuid=row.uuid,
        )
    return Candidates(allocation_requests=requests, provider_summaries=summaries)


def find_candidates(query: CandidateQuery) -> Candidates:
    """Stands in for the store's candidate query."""
    return build_candidates(min(query.limit or 10, 10))
