"""The scheduler: runs a request through the stack (``stack.build_stack``).

``Scheduler.select_destinations`` reads top to bottom as the whole story. The
scheduler keeps no private copy of host state: every attempt asks the candidate
source, and the claim is what makes a choice true.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from berthing.model import (
    DISABLED_TRAIT,
    SHARING_TRAIT,
    Consumer,
    ConsumerNotFound,
    Destination,
    GroupPolicy,
    HostStats,
    InvalidInput,
    ProviderQuery,
    ProviderState,
    RequestSpec,
)
from berthing.scheduler import groups
from berthing.scheduler.candidates import CandidateSource
from berthing.scheduler.claims import Claim, ClaimStrategy
from berthing.scheduler.config import SchedulerConfig
from berthing.scheduler.context import Context
from berthing.scheduler.explain import NoValidHost, describe_rejections, explain_empty_query
from berthing.scheduler.metrics import SchedulerMetrics
from berthing.scheduler.stack import build_stack
from berthing.scheduler.weighers import weigh
from berthing.store import Store

__all__ = ["Scheduler", "Selection"]


@dataclass(frozen=True, slots=True)
class Selection:
    """A host for one instance, plus alternates (not claimed) for reschedules, as
    Nova's select_destinations returns them. ``claimed``: the allocation is held in
    the store already; if not, the host claims it when it builds."""

    consumer: Consumer
    destination: Destination
    alternates: tuple[Destination, ...] = ()
    claimed: bool = True


@dataclass
class _Attempts:
    """Bookkeeping for one instance: what was tried and why candidates fell away."""

    tried: set[str] = field(default_factory=set)
    rejections: Counter[str] = field(default_factory=Counter)
    conflicts: int = 0
    candidates: int = 0
    count: int = 0


class Scheduler:
    """Safe to run in many processes against one store; one instance per thread."""

    def __init__(
        self,
        store: Store,
        config: SchedulerConfig | None = None,
        *,
        rng: random.Random | None = None,
        metrics: SchedulerMetrics | None = None,
        source: CandidateSource | None = None,
        claims: ClaimStrategy | None = None,
    ) -> None:
        self.store = store
        self.config = config or SchedulerConfig()
        self.rng = rng or random.Random()
        self.metrics = metrics or SchedulerMetrics()
        self.stack = build_stack(store, self.config, source=source, claims=claims)

    # -- the whole story -------------------------------------------------------------

    def select_destinations(self, spec: RequestSpec) -> list[Selection]:
        """A host for every instance of ``spec``, or none at all (NoValidHost)."""
        with self._measured(spec.num_instances):
            ctx = self._prepare(spec)
            chosen: list[Selection] = []
            try:
                for instance_uuid in spec.uuids():
                    new = Consumer(instance_uuid, spec.project_id, spec.user_id)
                    chosen.append(self._place_one(new, ctx))
                    ctx.placed[chosen[-1].destination.host_uuid] += 1
            except NoValidHost:
                for selection in chosen:
                    self.stack.claims.undo(Claim(selection.consumer, selection.claimed), spec)
                raise
            return chosen

    def move(self, spec: RequestSpec, consumer: Consumer) -> Selection:
        """Re-place one existing consumer (a resize): the new claim replaces its
        allocations atomically, under the consumer's generation."""
        with self._measured(1):
            return self._place_one(consumer, self._prepare(spec))

    def reschedule(
        self, spec: RequestSpec, instance_uuid: str, alternates: Sequence[Destination]
    ) -> Selection:
        """Place a failed build again: an alternate first (one claim, no scheduling
        pass), else a fresh placement that avoids ``spec.ignore_hosts``."""
        ctx = self._prepare(spec)
        consumer = self.stack.claims.consumer_for_retry(instance_uuid, spec)
        for i, alt in enumerate(alternates):
            claim = self.stack.claims.claim(consumer, alt, ctx)
            if claim is not None:
                return Selection(claim.consumer, alt, tuple(alternates[i + 1 :]), claim.claimed)
        with self._measured(1):
            return self._place_one(consumer, ctx)

    @contextmanager
    def _measured(self, instances: int) -> Iterator[None]:
        started = time.perf_counter()
        self.metrics.requests += 1
        try:
            yield
        except NoValidHost:
            self.metrics.no_valid_host += 1
            raise
        finally:
            self.metrics.latency.observe(time.perf_counter() - started)
        self.metrics.placements += instances

    def _place_one(self, consumer: Consumer, ctx: Context) -> Selection:
        attempts = _Attempts()
        while attempts.count < self.config.max_attempts:
            # Ask the source (never a cache of our own) for providers that fit right now.
            ranked = self._rank(ctx, attempts)
            for i, host in enumerate(ranked):
                attempts.count += 1
                self.metrics.retries += attempts.count > 1
                dest = self._destination(host, ctx)
                claim = self.stack.claims.claim(consumer, dest, ctx)
                if claim is not None:
                    alternates = ranked[i + 1 : i + 1 + self.config.max_alternates]
                    others = tuple(self._destination(h, ctx) for h in alternates)
                    return Selection(claim.consumer, dest, others, claim.claimed)
                # Lost a race: the next candidate is as good a guess and costs one claim.
                self.metrics.conflicts += 1
                attempts.conflicts += 1
                attempts.tried.add(host.provider.uuid)
                if attempts.count >= self.config.max_attempts:
                    raise self._no_valid_host(attempts)
            if not ranked:
                break
            self.metrics.requeries += 1
        raise self._no_valid_host(attempts)

    # -- stages ----------------------------------------------------------------------

    def _prepare(self, spec: RequestSpec) -> Context:
        """Gather once what filters need: the zone, the group, hint hosts."""
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
        """Query, filter and weigh; the best ``subset`` are shuffled so that parallel
        schedulers facing the same cloud do not all pick the same host."""
        query = self._query(ctx)
        found = [h for h in self.stack.source.find(query) if h.provider.uuid not in attempts.tried]
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
        weights = weigh(passed, ctx, self.stack.weighers)
        ranked = [h for _, h in sorted(zip(weights, passed, strict=True), key=lambda p: -p[0])]
        top = ranked[: self.stack.subset]
        self.rng.shuffle(top)
        return top + ranked[self.stack.subset :]

    def _filter(
        self, hosts: list[ProviderState], ctx: Context, rejections: Counter[str]
    ) -> list[ProviderState]:
        passed = []
        for host in hosts:
            for _, check in self.stack.filters:
                reason = check(host, ctx)
                if reason is not None:
                    rejections[reason] += 1
                    self.metrics.rejections[reason] += 1
                    break
            else:
                passed.append(host)
        return passed

    def _destination(self, host: ProviderState, ctx: Context) -> Destination:
        allocations = {host.provider.uuid: dict(ctx.spec.resources)}
        pool = ctx.pool_for(host) if ctx.spec.shared_resources else None
        if pool is not None:
            allocations[pool.provider.uuid] = dict(ctx.spec.shared_resources)
        return Destination(host.provider.uuid, host.provider.name, allocations)

    # -- helpers ---------------------------------------------------------------------

    def _load_stats(self, ctx: Context, hosts: list[ProviderState]) -> None:
        records = self.store.get_records(HostStats, [h.provider.uuid for h in hosts])
        ctx.stats = {k: r.value for k, r in records.items()}

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

    def _no_valid_host(self, attempts: _Attempts) -> NoValidHost:
        reasons = describe_rejections(attempts.rejections, attempts.conflicts, attempts.candidates)
        return NoValidHost(f"{attempts.count} claim(s) attempted", reasons)


def _pinned_hosts(ctx: Context) -> frozenset[str] | None:
    """Hosts the request can only go to (hard affinity, same_host), asked for by uuid:
    the limited random slice a query returns in a large cloud would rarely hold them."""
    pinned: set[str] | None = set(ctx.same_hosts) if ctx.spec.same_host else None
    if ctx.group is not None and ctx.group.value.policy is GroupPolicy.AFFINITY:
        hosts = ctx.group_hosts()
        if hosts:
            pinned = hosts if pinned is None else pinned & hosts
    return None if pinned is None else frozenset(pinned)
