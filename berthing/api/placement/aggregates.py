"""``/resource_providers/{uuid}/aggregates`` (1.1): a bare list before 1.19, an object
with the provider generation from 1.19 (and only then does a PUT bump it)."""

from __future__ import annotations

import msgspec
from msgspec import UNSET, UnsetType

from berthing.api.errors import ApiError
from berthing.api.placement.core import Call, Reply
from berthing.api.placement.providers import provider_of
from berthing.model import Provider, validate_uuid
from berthing.runtime import retry_conflicts

__all__ = ["list_aggregates", "replace"]


class _Body(msgspec.Struct, forbid_unknown_fields=True):
    aggregates: list[str]
    resource_provider_generation: int | UnsetType = UNSET


def _view(call: Call, p: Provider) -> dict[str, object]:
    body: dict[str, object] = {"aggregates": sorted(p.aggregates)}
    if call.at_least("1.19"):
        body["resource_provider_generation"] = p.generation
    return body


def list_aggregates(call: Call) -> Reply:
    return Reply(body=_view(call, provider_of(call)))


def replace(call: Call) -> Reply:
    p = provider_of(call)
    if call.at_least("1.19"):
        body = call.decode(_Body)
        if isinstance(body.resource_provider_generation, UnsetType):
            raise ApiError(400, "'resource_provider_generation' is a required property.")
        aggs = _uuids(body.aggregates)
        return Reply(
            body=_view(
                call, call.store.set_aggregates(p.uuid, body.resource_provider_generation, aggs)
            )
        )
    aggs = _uuids(call.decode(list[str]))

    def attempt() -> Provider:  # before 1.19 the client gives no generation: use the current
        current = call.store.get_provider(p.uuid)
        return call.store.set_aggregates(p.uuid, current.generation, aggs, bump=False)

    return Reply(body=_view(call, retry_conflicts(f"aggregates of {p.uuid}", attempt)))


def _uuids(values: list[str]) -> list[str]:
    if len(set(values)) != len(values):
        raise ApiError(400, "The aggregate list has duplicates.")
    try:
        return [validate_uuid(v, "aggregate uuid") for v in values]
    except ValueError as exc:
        raise ApiError(400, str(exc)) from exc
