"""``/resource_providers/{uuid}/aggregates`` (1.1).

From 1.1 to 1.18 the body both ways is a bare list of aggregate uuids; from 1.19 it is
``{"aggregates": [...], "resource_provider_generation": N}`` and a stale generation is
409 ``placement.concurrent_update``.
"""

from __future__ import annotations

import msgspec

from berthing.api.errors import ApiError
from berthing.api.placement.core import Call, Reply
from berthing.api.placement.providers import provider_of
from berthing.api.placement.views import AggregatesView
from berthing.model import InvalidInput, Provider, validate_uuid

__all__ = ["list_for_provider", "set_for_provider"]


class _Aggregates(msgspec.Struct, forbid_unknown_fields=True):
    aggregates: list[str]
    resource_provider_generation: int


def _view(p: Provider, call: Call) -> AggregatesView:
    aggs = sorted(p.aggregates)
    return AggregatesView(aggs, p.generation) if call.at_least("1.19") else AggregatesView(aggs)


def list_for_provider(call: Call) -> Reply:
    return Reply(body=_view(provider_of(call), call))


def set_for_provider(call: Call) -> Reply:
    """Before 1.19 there is no generation in the body: the one just read is compared.
    (Placement does not bump the generation on that path; berthing's store bumps it on
    every change, so a 1.1 client sees the provider generation move.)"""
    current = provider_of(call)
    if call.at_least("1.19"):
        body = call.decode(_Aggregates)
        aggregates, generation = body.aggregates, body.resource_provider_generation
    else:
        aggregates, generation = call.decode(list[str]), current.generation
    p = call.store.set_aggregates(current.uuid, generation, _checked(aggregates))
    return Reply(body=_view(p, call))


def _checked(aggregates: list[str]) -> list[str]:
    try:
        uuids = [validate_uuid(a, "aggregate uuid") for a in aggregates]
    except InvalidInput as exc:
        raise ApiError(400, exc.message) from exc
    if len(set(uuids)) != len(uuids):
        raise ApiError(400, "The aggregates list names an aggregate twice.")
    return uuids
