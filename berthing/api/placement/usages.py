"""``GET /resource_providers/{uuid}/usages`` and ``GET /usages`` (1.9).

A provider's usages list every class it has inventory of (0 when nothing is
allocated), read as one snapshot with its generation. A project's usages are what its
consumers hold (Nova's quota counts); from 1.38 they are grouped by consumer type,
each group with its ``consumer_count``: ``consumer_type=X`` keeps one type, ``all``
sums every type under ``all``, ``unknown`` is the consumers written before 1.38.
"""

from __future__ import annotations

import re

from berthing.api.errors import ApiError
from berthing.api.placement.core import Call, Reply
from berthing.api.placement.providers import provider_state_of
from berthing.api.placement.query import check_known
from berthing.api.placement.views import UNKNOWN_TYPE, ProviderUsagesView, UsagesView
from berthing.model import TypeUsage, totals

__all__ = ["for_project", "for_provider"]

_PARAMS = (("1.9", "project_id"), ("1.9", "user_id"), ("1.38", "consumer_type"))
_TYPE = re.compile(r"^[A-Z0-9_]+$")
ALL_TYPES = "all"


def for_provider(call: Call) -> Reply:
    state = provider_state_of(call)
    usages = {rc: state.usages.get(rc, 0) for rc in state.inventories}
    return Reply(body=ProviderUsagesView(state.provider.generation, usages))


def for_project(call: Call) -> Reply:
    check_known(list(call.query.keys()), {name for since, name in _PARAMS if call.at_least(since)})
    project = _external_id(call, "project_id")
    if project is None:
        raise ApiError(400, "GET /usages needs the query parameter project_id.")
    usages = call.store.usages(project, _external_id(call, "user_id"))
    if not call.at_least("1.38"):
        return Reply(body=UsagesView(totals(usages)))
    return Reply(body=UsagesView(_grouped(usages, _consumer_type(call))))


def _external_id(call: Call, name: str) -> str | None:
    value = call.query.get(name)
    if value is not None and not 1 <= len(value) <= 255:
        raise ApiError(400, f"Query parameter {name} must be 1 to 255 characters.")
    return value


def _consumer_type(call: Call) -> str | None:
    wanted = call.query.get("consumer_type")
    if wanted is None or wanted in (ALL_TYPES, UNKNOWN_TYPE) or _TYPE.match(wanted):
        return wanted
    raise ApiError(
        400,
        f"Query parameter consumer_type={wanted!r} must be one type ([A-Z0-9_]+), "
        f"{ALL_TYPES!r} or {UNKNOWN_TYPE!r}.",
    )


def _grouped(usages: list[TypeUsage], wanted: str | None) -> dict[str, dict[str, int]]:
    named = [(u.consumer_type or UNKNOWN_TYPE, u) for u in usages if u.consumer_count]
    if wanted == ALL_TYPES:
        count = sum(u.consumer_count for _, u in named)
        everything = totals(u for _, u in named)
        return {ALL_TYPES: {**everything, "consumer_count": count}} if count else {}
    return {
        name: {**u.resources, "consumer_count": u.consumer_count}
        for name, u in named
        if wanted is None or name == wanted
    }
