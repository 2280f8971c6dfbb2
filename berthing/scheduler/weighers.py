"""Weighers: raw scores per host, normalized to [0, 1] across the candidates and
multiplied by their configured multiplier, as in Nova. A positive resource
multiplier spreads (prefers free room); a negative one packs."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from berthing.model import GroupPolicy, InvalidInput, ProviderState
from berthing.scheduler.context import Context

__all__ = ["WEIGHERS", "Weigher", "resolve_weighers", "weigh"]

Weigher = Callable[[ProviderState, Context], float]
WEIGHERS: dict[str, Weigher] = {}


def _register(name: str) -> Callable[[Weigher], Weigher]:
    def add(fn: Weigher) -> Weigher:
        WEIGHERS[name] = fn
        return fn

    return add


@_register("ram")
def ram(host: ProviderState, ctx: Context) -> float:
    return host.free("MEMORY_MB")


@_register("cpu")
def cpu(host: ProviderState, ctx: Context) -> float:
    return host.free("VCPU")


@_register("disk")
def disk(host: ProviderState, ctx: Context) -> float:
    return host.free("DISK_GB")


@_register("io_ops")
def io_ops(host: ProviderState, ctx: Context) -> float:
    return ctx.host_stats(host.provider.uuid).io_ops


@_register("build_failure")
def build_failure(host: ProviderState, ctx: Context) -> float:
    # Negated: a host that keeps failing builds sinks, however empty it looks.
    return -ctx.host_stats(host.provider.uuid).build_failures


@_register("soft_affinity")
def soft_affinity(host: ProviderState, ctx: Context) -> float:
    if ctx.group is None or ctx.group.value.policy is not GroupPolicy.SOFT_AFFINITY:
        return 0.0
    return ctx.group_count(host.provider.uuid)


@_register("soft_anti_affinity")
def soft_anti_affinity(host: ProviderState, ctx: Context) -> float:
    if ctx.group is None or ctx.group.value.policy is not GroupPolicy.SOFT_ANTI_AFFINITY:
        return 0.0
    return -ctx.group_count(host.provider.uuid)


def resolve_weighers(weights: Mapping[str, float]) -> list[tuple[Weigher, float]]:
    unknown = [n for n in weights if n not in WEIGHERS]
    if unknown:
        raise InvalidInput(
            f"Unknown weigher(s): {', '.join(unknown)}.",
            hint=f"Known: {', '.join(sorted(WEIGHERS))}.",
        )
    return [(WEIGHERS[n], m) for n, m in weights.items() if m]


def _normalize(values: Sequence[float]) -> list[float]:
    lo, hi = min(values), max(values)
    if hi == lo:
        return [0.0] * len(values)
    span = hi - lo
    return [(v - lo) / span for v in values]


def weigh(
    hosts: Sequence[ProviderState], ctx: Context, weighers: Sequence[tuple[Weigher, float]]
) -> list[float]:
    """Total weight per host, in the order given."""
    totals = [0.0] * len(hosts)
    for fn, multiplier in weighers:
        for i, w in enumerate(_normalize([fn(h, ctx) for h in hosts])):
            totals[i] += multiplier * w
    return totals
