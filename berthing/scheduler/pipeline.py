"""The scheduling pipeline: prepare -> candidate query -> filters -> weighers -> claim.

``Scheduler.select_destinations`` reads top to bottom as the whole story; each stage
is a small function and each filter or weigher a pluggable unit (``filters.py``,
``weighers.py``). The scheduler keeps no private copy of host state: every attempt
asks the store, and the claim's compare-and-set is what makes a choice true.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from dataclasses import dataclass, field

from berthing.model import (
    DISABLED_TRAIT,
    SHARING_TRAIT,
    Claimed,
    ClaimResult,
    Consumer,
    ConsumerNotFound,
    InvalidInput,
    ProviderQuery,
    ProviderState,
)
from berthing.scheduler import groups
from berthing.scheduler.config import SchedulerConfig
from berthing.scheduler.context import HOST_STATS, Context, HostStats
from berthing.scheduler.explain import NoValidHost, describe_rejections, explain_empty_query
from berthing.scheduler.filters import FILTERS, resolve_filters
from berthing.scheduler.metrics import SchedulerMetrics
from berthing.scheduler.request import GroupPolicy, RequestSpec
from berthing.scheduler.weighers import resolve_weighers, weigh
from berthing.store import Store

__all__ = ["Destination", "Scheduler", "Selection"]


@dataclass(frozen=True, slots=True)
class Destination:
    host_uuid: str
    host_name: str
    allocations: dict[str, dict[str, int]]


@dataclass(frozen=True, slots=True)
class Selection:
    """A claimed host for one instance, plus alternates (not claimed) for reschedules,
    as Nova's select_destinations returns them."""

    consumer: Consumer
    destination: Destination
    alternates: tuple[Destination, ...] = ()


@dataclass
class _Attempts:
    """Bookkeeping for one instance: what was tried and why candidates fell away."""

    tried: set[str] = field(default_factory=set)
    rejections: Counter[str] = field(default_factory=Counter)
    conflicts: int = 0
    candidates: int = 0
    count: int = 0


def _pinned_hosts(ctx: Context) -> frozenset[str] | None:
    """Hosts the request can only go to (hard affinity, same_host), asked for by uuid:
    the limited random slice a query returns in a large cloud would rarely hold them."""
    pinned: set[str] | None = set(ctx.same_hosts) if ctx.spec.same_host else None
    if ctx.group is not None and ctx.group.policy is GroupPolicy.AFFINITY:
        hosts = ctx.group_hosts()
        if hosts:
            pinned = hosts if pinned is None else pinned & hosts
    return None if pinned is None else frozenset(pinned)


class Scheduler:
    """Safe to run in many processes against one store; one instance per thread."""

    claims = True
    """Selections are claimed in the store (the classic baseline says False)."""

    def __init__(
        self,
        store: Store,
        config: SchedulerConfig | None = None,
        *,
        rng: random.Random | None = None,
        metrics: SchedulerMetrics | None = None,
    ) -> None:
        self.store = store
        self.config = config or SchedulerConfig()
        self.rng = rng or random.Random()
        self.metrics = metrics or SchedulerMetrics()
        self._filters = resolve_filters(self.config.filters)
        self._weighers = resolve_weighers(self.config.weights)

    # -- the whole story -------------------------------------------------------------

    def select_destinations(self, spec: RequestSpec) -> list[Selection]:
        """Claim a host for every instance of ``spec``, or none at all (NoValidHost)."""
        started = time.perf_counter()
        self.metrics.requests += 1
        ctx = self._prepare(spec)
        chosen: list[Selection] = []
        try:
            for instance_uuid in spec.uuids():
                chosen.append(self._place_one(instance_uuid, ctx))
                ctx.placed[chosen[-1].destination.host_uuid] += 1
        except NoValidHost:
            self.metrics.no_valid_host += 1
            self._undo(chosen, spec)
            raise
        finally:
            self.metrics.latencies.append(time.perf_counter() - started)
        self.metrics.placements += len(chosen)
        return chosen

    def move(self, spec: RequestSpec, consumer: Consumer) -> Selection:
        """Re-place one existing consumer (a resize or a reschedule): the new claim
        replaces its allocations atomically, under the consumer's generation."""
        started = time.perf_counter()
        self.metrics.requests += 1
        ctx = self._prepare(spec)
        try:
            selection = self._place_one(consumer.uuid, ctx, consumer.generation)
        except NoValidHost:
            self.metrics.no_valid_host += 1
            raise
        finally:
            self.metrics.latencies.append(time.perf_counter() - started)
        self.metrics.placements += 1
        return selection

    def _place_one(
        self, instance_uuid: str, ctx: Context, generation: int | None = None
    ) -> Selection:
        attempts = _Attempts()
        while attempts.count < self.config.max_attempts:
            # Ask the store (never a cache) for providers that fit right now.
            ranked = self._rank(ctx, attempts)
            if not ranked:
                break
            for i, host in enumerate(ranked):
                attempts.count += 1
                self.metrics.retries += attempts.count > 1
                selection = self._claim(instance_uuid, generation, host, ctx, ranked[i + 1 :])
                if selection is not None:
                    return selection
                # Lost a race: the next candidate is as good a guess and costs one claim.
                attempts.conflicts += 1
                attempts.tried.add(host.provider.uuid)
                if attempts.count >= self.config.max_attempts:
                    break
            self.metrics.requeries += 1
        raise self._no_valid_host(ctx, attempts)

    # -- stages ----------------------------------------------------------------------

    def _prepare(self, spec: RequestSpec) -> Context:
        """Gather once what filters need: the group, hint hosts; validate references."""
        ctx = Context(spec, self.config)
        if spec.availability_zone is not None:
            ctx.zone = groups.zone_aggregate(self.store, spec.availability_zone)
        if spec.server_group is not None:
            ctx.group = groups.load_group(self.store, spec.server_group)
        ctx.same_hosts = self._hosts_of(spec.same_host, "same_host")
        ctx.different_hosts = self._hosts_of(spec.different_host, "different_host")
        return ctx

    def _query(self, ctx: Context) -> ProviderQuery:
        spec = ctx.spec
        member_of = spec.member_of
        if ctx.zone is not None:  # a zone is an aggregate, as Nova maps them for Placement
            member_of = (*member_of, frozenset({ctx.zone}))
        return ProviderQuery(
            resources=spec.resources,
            required_traits=spec.required_traits,
            # Hosts marked down or disabled carry this trait; the query drops them.
            forbidden_traits=spec.forbidden_traits | {DISABLED_TRAIT},
            member_of=member_of,
            name=spec.force_host,
            uuids=_pinned_hosts(ctx),
            limit=self.config.candidate_limit,
            seed=self.rng.randrange(2**31),
        )

    def _rank(self, ctx: Context, attempts: _Attempts) -> list[ProviderState]:
        """Query, filter and weigh; the best ``host_subset_size`` are shuffled so that
        parallel schedulers facing the same cloud do not all pick the same host."""
        query = self._query(ctx)
        found = [h for h in self._candidates(query) if h.provider.uuid not in attempts.tried]
        if not found and not attempts.candidates:
            raise NoValidHost(
                "the store has no provider that fits", explain_empty_query(self.store, query)
            )
        attempts.candidates += len(found)
        self._load_pools(ctx)
        self._load_stats(ctx, found)
        passed = self._filter(found, ctx, attempts.rejections)
        if not passed:
            return []
        weights = weigh(passed, ctx, self._weighers)
        ranked = [h for _, h in sorted(zip(weights, passed, strict=False), key=lambda p: -p[0])]
        top = ranked[: self.config.host_subset_size]
        self.rng.shuffle(top)
        return top + ranked[self.config.host_subset_size :]

    def _candidates(self, query: ProviderQuery) -> list[ProviderState]:
        return self.store.find_providers(query)

    def _filter(
        self, hosts: list[ProviderState], ctx: Context, rejections: Counter[str]
    ) -> list[ProviderState]:
        filters = list(self._filters)
        if ctx.spec.shared_resources:
            filters.append(("shared_pool", FILTERS["shared_pool"]))
        passed = []
        for host in hosts:
            for _, check in filters:
                reason = check(host, ctx)
                if reason is not None:
                    rejections[reason] += 1
                    self.metrics.rejections[reason] += 1
                    break
            else:
                passed.append(host)
        return passed

    def _claim(
        self,
        instance_uuid: str,
        generation: int | None,
        host: ProviderState,
        ctx: Context,
        rest: list[ProviderState],
    ) -> Selection | None:
        """Compare-and-set the allocation; join the server group under its own CAS."""
        spec = ctx.spec
        dest = self._destination(host, ctx)
        result: ClaimResult = self.store.claim(
            Consumer(instance_uuid, spec.project_id, spec.user_id, generation), dest.allocations
        )
        if not isinstance(result, Claimed):
            self.metrics.conflicts += 1
            return None
        # A move (generation given) keeps its group membership; only new members join
        # under the group's compare-and-set, and only they can be undone by a release.
        if (
            ctx.group is not None
            and generation is None
            and not groups.join_group(self.store, ctx.group.uuid, instance_uuid, host.provider.uuid)
        ):
            self.store.release(instance_uuid)
            self.metrics.conflicts += 1
            ctx.group = groups.load_group(self.store, ctx.group.uuid)
            return None
        alternates = tuple(self._destination(h, ctx) for h in rest[: self.config.max_alternates])
        return Selection(result.consumer, dest, alternates)

    def _destination(self, host: ProviderState, ctx: Context) -> Destination:
        allocations = {host.provider.uuid: dict(ctx.spec.resources)}
        pool = ctx.pool_for(host) if ctx.spec.shared_resources else None
        if pool is not None:
            allocations[pool.provider.uuid] = dict(ctx.spec.shared_resources)
        return Destination(host.provider.uuid, host.provider.name, allocations)

    # -- helpers ---------------------------------------------------------------------

    def _load_stats(self, ctx: Context, hosts: list[ProviderState]) -> None:
        records = self.store.get_records(HOST_STATS, [h.provider.uuid for h in hosts])
        ctx.stats = {k: HostStats.from_value(r.value) for k, r in records.items()}

    def _load_pools(self, ctx: Context) -> None:
        if not ctx.spec.shared_resources:
            return
        query = ProviderQuery(ctx.spec.shared_resources, required_traits=frozenset({SHARING_TRAIT}))
        ctx.pools = {}
        for pool in self.store.find_providers(query):
            for agg in pool.provider.aggregates:
                ctx.pools.setdefault(agg, []).append(pool)

    def _hosts_of(self, instances: frozenset[str], hint: str) -> frozenset[str]:
        hosts: set[str] = set()
        for uuid in instances:
            try:
                hosts.update(self.store.get_allocations(uuid)[1])
            except ConsumerNotFound as exc:
                raise InvalidInput(f"{hint} names instance {uuid}, which holds nothing.") from exc
        return frozenset(hosts)

    def _undo(self, chosen: list[Selection], spec: RequestSpec) -> None:
        """All or nothing: give back what earlier instances of this request claimed."""
        for selection in chosen:
            self.store.release(selection.consumer.uuid)
            if spec.server_group is not None:
                groups.leave_group(self.store, spec.server_group, selection.consumer.uuid)

    def _no_valid_host(self, ctx: Context, attempts: _Attempts) -> NoValidHost:
        reasons = describe_rejections(attempts.rejections, attempts.conflicts, attempts.candidates)
        return NoValidHost(f"{attempts.count} claim(s) attempted", reasons)
