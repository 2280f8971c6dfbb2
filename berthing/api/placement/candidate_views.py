"""The body of ``GET /allocation_candidates`` at each microversion.

``allocation_requests``: a list of ``{resource_provider, resources}`` before 1.12, a dict
keyed by provider from 1.12 (what ``PUT /allocations`` takes), with ``mappings`` from
1.34. ``provider_summaries``: capacity and usage of the requested classes (every class
from 1.27), traits from 1.17, parent and root from 1.29; before 1.29 only the providers
the candidates use, from 1.29 every provider of their trees.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import msgspec
from msgspec import UNSET, UnsetType

from berthing.api.placement.microversion import Version
from berthing.model import Candidate, CandidateResult, ProviderState

__all__ = ["CandidatesView", "candidates_view"]


class ProviderRef(msgspec.Struct, frozen=True):
    uuid: str


class ListedAllocation(msgspec.Struct, frozen=True):
    resource_provider: ProviderRef
    resources: Mapping[str, int]


class ListedRequest(msgspec.Struct, frozen=True):
    """An allocation request before 1.12."""

    allocations: list[ListedAllocation]


class Resources(msgspec.Struct, frozen=True):
    resources: Mapping[str, int]


class AllocationRequest(msgspec.Struct, frozen=True, omit_defaults=True):
    """An allocation request from 1.12 (``mappings`` from 1.34)."""

    allocations: dict[str, Resources]
    mappings: dict[str, list[str]] | UnsetType = UNSET


class Usage(msgspec.Struct, frozen=True):
    capacity: int
    used: int


class ProviderSummary(msgspec.Struct, frozen=True, omit_defaults=True):
    resources: dict[str, Usage]
    traits: list[str] | UnsetType = UNSET
    parent_provider_uuid: str | None | UnsetType = UNSET
    root_provider_uuid: str | UnsetType = UNSET


class CandidatesView(msgspec.Struct, frozen=True):
    allocation_requests: list[ListedRequest] | list[AllocationRequest]
    provider_summaries: dict[str, ProviderSummary]


def candidates_view(
    result: CandidateResult, requested: Iterable[str], version: Version
) -> CandidatesView:
    """``requested``: the classes the request names (summaries show only them before 1.27)."""
    requests: list[ListedRequest] | list[AllocationRequest]
    if version.at_least("1.12"):
        requests = [_request(c, version) for c in result.candidates]
    else:
        requests = [_listed(c) for c in result.candidates]
    shown = None if version.at_least("1.27") else frozenset(requested)
    summaries = {
        uuid: _summary(result.providers[uuid], shown, version)
        for uuid in _summarized(result, version)
    }
    return CandidatesView(requests, summaries)


def _listed(c: Candidate) -> ListedRequest:
    return ListedRequest(
        [ListedAllocation(ProviderRef(p), dict(per)) for p, per in c.allocations.items()]
    )


def _request(c: Candidate, version: Version) -> AllocationRequest:
    allocations = {p: Resources(dict(per)) for p, per in c.allocations.items()}
    if not version.at_least("1.34"):
        return AllocationRequest(allocations)
    return AllocationRequest(allocations, {s: list(ps) for s, ps in c.mappings.items()})


def _summarized(result: CandidateResult, version: Version) -> list[str]:
    """Every provider of the candidates' trees from 1.29 (Placement shows the whole tree
    a client may place into), only those a candidate uses before."""
    if version.at_least("1.29"):
        return list(result.providers)
    used = (
        p for c in result.candidates for ps in (c.allocations, *c.mappings.values()) for p in ps
    )
    return list(dict.fromkeys(used))


def _summary(
    state: ProviderState, shown: frozenset[str] | None, version: Version
) -> ProviderSummary:
    resources = {
        rc: Usage(inv.capacity, state.usages.get(rc, 0))
        for rc, inv in sorted(state.inventories.items())
        if shown is None or rc in shown
    }
    p = state.provider
    if not version.at_least("1.17"):
        return ProviderSummary(resources)
    traits = sorted(p.traits)
    if not version.at_least("1.29"):
        return ProviderSummary(resources, traits)
    return ProviderSummary(resources, traits, p.parent_uuid, p.root_uuid or p.uuid)
