"""The benchmark's targets, checked against every run they apply to."""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from berthing.sim.bench.anchor import Anchor
from berthing.sim.bench.results import RunResult

__all__ = [
    "ANCHOR_TARGETS",
    "ETCD_TARGET",
    "TARGETS",
    "Target",
    "Verdict",
    "anchor_target",
    "check",
    "check_anchor",
]

#: Retries only count toward their target while the cloud is below this fill.
FULL = 0.9


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    applies: Callable[[RunResult], bool]
    value: Callable[[RunResult], float]
    compare: Callable[[float, float], bool]
    """``compare(value, limit)`` is True when the target is met."""
    limit: float
    unit: str

    @property
    def upper_bound(self) -> bool:
        return self.compare in (operator.le, operator.lt)


@dataclass(frozen=True, slots=True)
class Verdict:
    target: str
    size: int
    schedulers: int
    value: float
    limit: float
    unit: str
    met: bool
    margin: float
    """Distance to the limit as a fraction of it: positive is headroom, negative a miss."""


TARGETS: tuple[Target, ...] = (
    Target(
        "p99 <= 5 ms at 10k",
        lambda r: r.size == 10_000,
        lambda r: r.p99_ms,
        operator.le,
        5.0,
        "ms",
    ),
    Target(
        "p99 <= 25 ms at 100k",
        lambda r: r.size == 100_000,
        lambda r: r.p99_ms,
        operator.le,
        25.0,
        "ms",
    ),
    Target(
        ">= 1000 placements/s, 4 schedulers at 10k",
        lambda r: r.size == 10_000 and r.schedulers == 4,
        lambda r: r.placements_per_s,
        operator.ge,
        1000.0,
        "/s",
    ),
    Target(
        "retries < 2% below 90% full",
        lambda r: r.fill_max < FULL,
        lambda r: r.retries_per_1k / 10,
        operator.lt,
        2.0,
        "%",
    ),
)


def check(runs: Sequence[RunResult]) -> list[Verdict]:
    """A verdict per (target, SQLite run it applies to)."""
    return [_verdict(t, r) for t in TARGETS for r in runs if r.store == "sqlite" and t.applies(r)]


#: Per remote engine: the share of its 4-client anchor that placements/s with 4
#: schedulers must reach, and what its anchor's cycle is called (issue 11).
ANCHOR_TARGETS: dict[str, tuple[float, str]] = {
    "etcd": (0.6, "CAS"),
    "cassandra": (0.5, "LWT"),
}
ANCHOR_CLIENTS = 4


def anchor_target(engine: str) -> str:
    share, cycle = ANCHOR_TARGETS[engine]
    return (
        f"{engine} placements/s with {ANCHOR_CLIENTS} schedulers >= {share:.0%} of the "
        f"{ANCHOR_CLIENTS}-client {cycle} rate"
    )


ETCD_TARGET = anchor_target("etcd")


def check_anchor(runs: Sequence[RunResult], anchor: Anchor) -> list[Verdict]:
    """The engine's target, against its bare compare-and-set rate measured on the same
    cluster with 4 client processes (``berthing.sim.bench.anchor``); none if that rate
    was not measured or the engine has no target."""
    rate = anchor.rates.get(ANCHOR_CLIENTS)
    if rate is None or anchor.engine not in ANCHOR_TARGETS:
        return []
    target = Target(
        anchor_target(anchor.engine),
        lambda r: r.store == anchor.engine and r.schedulers == ANCHOR_CLIENTS,
        lambda r: r.placements_per_s,
        operator.ge,
        ANCHOR_TARGETS[anchor.engine][0] * rate,
        "/s",
    )
    return [_verdict(target, r) for r in runs if target.applies(r)]


def _verdict(target: Target, run: RunResult) -> Verdict:
    value = target.value(run)
    gap = target.limit - value if target.upper_bound else value - target.limit
    return Verdict(
        target.name,
        run.size,
        run.schedulers,
        value,
        target.limit,
        target.unit,
        target.compare(value, target.limit),
        gap / target.limit,
    )
