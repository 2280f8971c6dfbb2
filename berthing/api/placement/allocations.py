"""``/allocations/{consumer_uuid}``, ``POST /allocations`` (1.13) and
``GET /resource_providers/{uuid}/allocations``.

Every write is one ``Store.commit`` (``writes``): a consumer's allocations are replaced
whole, several consumers change together or not at all, and from 1.28 each consumer's
generation is compared in the same write. A consumer whose allocations are emptied no
longer exists, so its next write is a new consumer again (``consumer_generation:
null``).
"""

from __future__ import annotations

from collections.abc import Mapping

from berthing.api.errors import ApiError
from berthing.api.placement.bodies import (
    INCOMPLETE_CONSUMER,
    ConsumerBody,
    ListBody,
    list_allocations,
)
from berthing.api.placement.core import Call, Reply
from berthing.api.placement.providers import provider_of
from berthing.api.placement.views import (
    ConsumerAllocationsView,
    ProviderAllocationsView,
    ProviderConsumerView,
    consumer_view,
)
from berthing.api.placement.writes import body_uuid, commit, consumer_part, with_type
from berthing.model import (
    AllocationChange,
    Consumer,
    ConsumerAllocations,
    ConsumerNotFound,
    InvalidInput,
    ProviderNotFound,
    validate_uuid,
)
from berthing.store import Store

__all__ = ["delete", "for_provider", "replace", "replace_many", "show"]


def show(call: Call) -> Reply:
    """Always 200: a consumer that holds nothing (or a malformed id) has ``{}``."""
    try:
        uuid = validate_uuid(call.params["consumer_uuid"])
        consumer, allocations = call.store.get_allocations(uuid)
    except (ConsumerNotFound, InvalidInput):
        return Reply(body=ConsumerAllocationsView({}))
    generations = _provider_generations(call.store, allocations)
    return Reply(body=consumer_view(consumer, allocations, generations, call.version))


def _provider_generations(store: Store, allocations: Mapping[str, object]) -> dict[str, int]:
    out = {}
    for p in allocations:
        try:
            out[p] = store.get_provider(p).generation
        except ProviderNotFound:  # deleted since: its allocations went with it
            continue
    return out


def replace(call: Call) -> Reply:
    """Set the consumer's allocations to exactly the body's (from 1.28, ``{}`` removes
    them)."""
    key = call.params["consumer_uuid"]
    if call.at_least("1.12"):
        body = call.decode(ConsumerBody)
        part = consumer_part(
            call.store, key, body, call.version, may_empty=call.at_least("1.28"), where=""
        )
    else:
        part = _list_part(call, body_uuid(key))
    commit(call.store, AllocationChange((part,)))
    return Reply(204)


def _list_part(call: Call, uuid: str) -> ConsumerAllocations:
    """The list form (1.0-1.11); without project and user (before 1.8) the consumer
    belongs to Placement's "incomplete consumer" project and user."""
    body = call.decode(ListBody)
    allocations = list_allocations(body, call.version)
    project = body.project_id if isinstance(body.project_id, str) else INCOMPLETE_CONSUMER
    user = body.user_id if isinstance(body.user_id, str) else INCOMPLETE_CONSUMER
    part = ConsumerAllocations(Consumer(uuid, project, user), allocations, check_generation=False)
    return with_type(call.store, part, call.version)


def replace_many(call: Call) -> Reply:
    """``POST /allocations``: several consumers, one atomic write; ``{}`` clears one."""
    body = call.decode(dict[str, ConsumerBody])
    if not body:
        raise ApiError(400, "POST /allocations needs at least one consumer.")
    parts = tuple(
        consumer_part(call.store, key, cb, call.version, may_empty=True, where=f"Consumer {key}: ")
        for key, cb in body.items()
    )
    commit(call.store, AllocationChange(parts))
    return Reply(204)


def delete(call: Call) -> Reply:
    """404 for a consumer that holds nothing (or a malformed id)."""
    key = call.params["consumer_uuid"]
    try:
        uuid = validate_uuid(key)
    except InvalidInput as exc:
        raise ApiError(404, f"No allocations for consumer {key}.") from exc
    call.store.release(uuid)
    return Reply(204)


def for_provider(call: Call) -> Reply:
    """Who holds what on a provider; each consumer's generation from 1.28."""
    provider = provider_of(call)
    held = call.store.provider_allocations(provider.uuid)
    if not call.at_least("1.28"):
        views = {c: ProviderConsumerView(per) for c, per in held.items()}
    else:
        views = {
            c: ProviderConsumerView(per, _generation(call.store, c)) for c, per in held.items()
        }
    return Reply(body=ProviderAllocationsView(provider.generation, views))


def _generation(store: Store, consumer: str) -> int | None:
    # The store's provider_allocations has no consumer generations: one read each.
    try:
        return store.get_allocations(consumer)[0].generation
    except ConsumerNotFound:  # released since
        return None
