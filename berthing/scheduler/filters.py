"""Filters: what the store query cannot express. Each is a tiny predicate that returns
None to keep a host or a ``Reason`` to reject it; the pipeline counts reasons
so that "why did nothing fit?" always has an answer."""

from __future__ import annotations

from collections.abc import Callable

from berthing.model import GroupPolicy, InvalidInput, ProviderState
from berthing.scheduler.context import Context
from berthing.scheduler.reasons import Reason

__all__ = ["FILTERS", "Filter", "resolve_filters"]

Filter = Callable[[ProviderState, Context], Reason | None]
FILTERS: dict[str, Filter] = {}


def _register(name: str) -> Callable[[Filter], Filter]:
    def add(fn: Filter) -> Filter:
        FILTERS[name] = fn
        return fn

    return add


def resolve_filters(names: tuple[str, ...]) -> list[tuple[str, Filter]]:
    unknown = [n for n in names if n not in FILTERS]
    if unknown:
        raise InvalidInput(
            f"Unknown filter(s): {', '.join(unknown)}.",
            hint=f"Known: {', '.join(sorted(FILTERS))}.",
        )
    return [(n, FILTERS[n]) for n in names]


@_register("ignore_hosts")
def ignore_hosts(host: ProviderState, ctx: Context) -> Reason | None:
    """Hosts a reschedule must avoid (where the build already failed)."""
    ignored = ctx.spec.ignore_hosts
    if host.provider.uuid in ignored or host.provider.name in ignored:
        return Reason.IGNORED_HOST
    return None


@_register("same_host")
def same_host(host: ProviderState, ctx: Context) -> Reason | None:
    if ctx.spec.same_host and host.provider.uuid not in ctx.same_hosts:
        return Reason.NOT_SAME_HOST
    return None


@_register("different_host")
def different_host(host: ProviderState, ctx: Context) -> Reason | None:
    if host.provider.uuid in ctx.different_hosts:
        return Reason.DIFFERENT_HOST
    return None


@_register("server_group")
def server_group(host: ProviderState, ctx: Context) -> Reason | None:
    """Hard affinity and anti-affinity; soft policies are weighers."""
    if ctx.group is None:
        return None
    group = ctx.group.value
    if group.policy is GroupPolicy.AFFINITY:
        hosts = ctx.group_hosts()
        if hosts and host.provider.uuid not in hosts:
            return Reason.GROUP_AFFINITY
    elif group.policy is GroupPolicy.ANTI_AFFINITY:
        if ctx.group_count(host.provider.uuid) >= group.max_server_per_host:
            return Reason.GROUP_ANTI_AFFINITY
    return None


@_register("num_instances")
def num_instances(host: ProviderState, ctx: Context) -> Reason | None:
    count = ctx.host_stats(host.provider.uuid).num_instances + ctx.placed[host.provider.uuid]
    if count >= ctx.config.max_instances_per_host:
        return Reason.MAX_INSTANCES
    return None


@_register("io_ops")
def io_ops(host: ProviderState, ctx: Context) -> Reason | None:
    if ctx.host_stats(host.provider.uuid).io_ops >= ctx.config.max_io_ops_per_host:
        return Reason.MAX_IO_OPS
    return None
