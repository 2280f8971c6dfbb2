"""``/v1/hosts``: capacity, usage and state of every host; disable and enable."""

from __future__ import annotations

import time

from berthing.api.errors import ApiError
from berthing.api.native.core import Ctx
from berthing.api.native.schemas import DisableRequest, HostList, HostView
from berthing.conductor import set_disabled
from berthing.model import (
    DISABLED_TRAIT,
    SHARING_TRAIT,
    Heartbeat,
    HostAdmin,
    HostStats,
    ProviderQuery,
    ProviderState,
    Record,
)

__all__ = ["disable", "enable", "list_hosts", "show"]


def list_hosts(ctx: Ctx, _: None) -> HostList:
    return HostList(_views(ctx, ctx.store.find_providers(ProviderQuery())))


def show(ctx: Ctx, _: None) -> HostView:
    return _views(ctx, [_host(ctx)])[0]


def disable(ctx: Ctx, body: DisableRequest) -> HostView:
    state = _host(ctx)
    set_disabled(ctx.store, state.provider.uuid, True, body.reason, ctx.identity.name)
    return _views(ctx, [ctx.store.get_provider_state(state.provider.uuid)])[0]


def enable(ctx: Ctx, _: None) -> HostView:
    state = _host(ctx)
    set_disabled(ctx.store, state.provider.uuid, False, by=ctx.identity.name)
    return _views(ctx, [ctx.store.get_provider_state(state.provider.uuid)])[0]


def _host(ctx: Ctx) -> ProviderState:
    """By uuid or by name."""
    wanted = ctx.params["host"]
    found = ctx.store.find_providers(ProviderQuery(name=wanted))
    if not found:
        found = [s for s in ctx.store.find_providers(ProviderQuery()) if s.provider.uuid == wanted]
    if not found or not _is_host(found[0]):
        raise ApiError(404, f"No host named or numbered {wanted}.", "berthing.not_found")
    return found[0]


def _is_host(state: ProviderState) -> bool:
    """A host is the root of a tree that lends nothing to others."""
    p = state.provider
    return p.parent_uuid is None and SHARING_TRAIT not in p.traits


def _views(ctx: Ctx, states: list[ProviderState]) -> list[HostView]:
    hosts = [s for s in states if _is_host(s)]
    keys = [s.provider.uuid for s in hosts]
    beats = ctx.store.get_records(Heartbeat, keys)
    admin = ctx.store.get_records(HostAdmin, keys)
    stats = ctx.store.get_records(HostStats, keys)
    return [
        _view(s, beats.get(s.provider.uuid), admin.get(s.provider.uuid), stats.get(s.provider.uuid))
        for s in hosts
    ]


def _view(
    s: ProviderState,
    beat: Record[Heartbeat] | None,
    admin: Record[HostAdmin] | None,
    stats: Record[HostStats] | None,
) -> HostView:
    p = s.provider
    reason = admin.value.reason if admin is not None and admin.value.disabled else ""
    if DISABLED_TRAIT in p.traits or reason:
        state = "disabled" if reason or beat is not None else "down"
        reason = reason or ("no heartbeat since it was marked down" if beat is None else "")
    else:
        state = "up" if beat is not None else "down"
    if state == "up" and beat is not None and beat.value.at < time.time() - 3600:
        state = "down"  # a heartbeat record that outlived its writer: never trust it forever
    return HostView(
        p.uuid,
        p.name,
        state,
        reason,
        {rc: inv.capacity for rc, inv in s.inventories.items()},
        {rc: s.usages.get(rc, 0) for rc in s.inventories},
        sorted(p.traits),
        sorted(p.aggregates),
        stats.value.num_instances if stats is not None else 0,
    )
