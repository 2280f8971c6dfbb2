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
    Candidate,
    CandidateRequest,
    Consumer,
    ConsumerNotFound,
    Destination,
    GroupPolicy,
    HostStats,
    InvalidInput,
    ProviderQuery,
    ProviderState,
    RequestGroup,
    RequestSpec,
)
from berthing.scheduler import groups
from berthing.scheduler.candidates import CandidateSource
from berthing.scheduler.claims import Claim, ClaimStrategy
from berthing.scheduler.config import SchedulerConfig
from berthing.scheduler.context import Context
from berthing.scheduler.explain import (
    Explanation,
    NoValidHost,
    census,
    describe_rejections,
    explain_empty,
)
from berthing.scheduler.metrics import SchedulerMetrics
from berthing.scheduler.stack import build_stack
from berthing.scheduler.weighers import weigh
from berthing.store import Store

__all__ = ["SHARED_GROUP", "Scheduler", "Selection"]

#: The request group of ``RequestSpec.shared_resources``: one sharing provider serves it.
SHARED_GROUP = "_SHARED"


@dataclass(frozen=True, slots=True)
class Selection:
    """A host for one instance, plus alternates (not claimed) for reschedules, as
    Nova's select_destinations returns them. ``claimed``: the allocation is held in
    the store already; if not, the host claims it when it builds."""

    consumer: Consumer
    destination: Destination
    alternates: tuple[Destination, ...] = ()
    claimed: bool = True


@dataclass(frozen=True, slots=True)
class _Option:
    """A candidate and its host (the root of its tree), which filters and weighers see."""

    candidate: Candidate
    host: ProviderState

    def destination(self) -> Destination:
        p = self.host.provider
        return Destination(p.uuid, p.name, self.candidate.allocations)


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
            for i, option in enumerate(ranked):
                attempts.count += 1
                self.metrics.retries += attempts.count > 1
                dest = option.destination()
                claim = self.stack.claims.claim(consumer, dest, ctx)
                if claim is not None:
                    alternates = ranked[i + 1 : i + 1 + self.config.max_alternates]
                    others = tuple(o.destination() for o in alternates)
                    return Selection(claim.consumer, dest, others, claim.claimed)
                # Lost a race: the next candidate is as good a guess and costs one claim.
                self.metrics.conflicts += 1
                attempts.conflicts += 1
                attempts.tried.add(option.host.provider.uuid)
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
        ctx.roots = self._pinned_hosts(ctx)
        return ctx

    def _pinned_hosts(self, ctx: Context) -> frozenset[str] | None:
        """Hosts the request can only go to (forced, hard affinity, same_host), asked
        for by uuid: the limited random slice a query returns in a large cloud would
        rarely hold them."""
        pinned = _pinned_hosts(ctx)
        if ctx.spec.force_host is None:
            return pinned
        named = self.store.find_providers(ProviderQuery(name=ctx.spec.force_host))
        if not named:
            why = [f"no provider named {ctx.spec.force_host}"]
            raise NoValidHost("the forced host does not exist", why)
        forced = frozenset({named[0].provider.uuid})
        return forced if pinned is None else pinned & forced

    def _request(self, ctx: Context) -> CandidateRequest:
        """The spec as request groups: the host's resources (its tree or a sharing
        provider may serve them), a pool's disk, any suffixed groups (a child's GPU)."""
        spec = ctx.spec
        member_of = spec.member_of
        if ctx.zone is not None:  # a zone is an aggregate, as Nova maps them for Placement
            member_of = (*member_of, frozenset({ctx.zone}))
        host = RequestGroup(
            resources=spec.resources,
            required=spec.required_traits,
            forbidden=spec.forbidden_traits,
            member_of=member_of,
        )
        groups = [host, *spec.groups]
        if spec.shared_resources:
            need = frozenset({SHARING_TRAIT})
            groups.append(RequestGroup(SHARED_GROUP, spec.shared_resources, required=need))
        return CandidateRequest(
            tuple(groups),
            isolation=spec.isolation,
            # Hosts marked down or disabled carry this trait on their root, as in Nova.
            root_forbidden=frozenset({DISABLED_TRAIT}),
            roots=ctx.roots,
            limit=self.config.candidate_limit,
            seed=self.rng.randrange(2**31),
        )

    def _rank(self, ctx: Context, attempts: _Attempts) -> list[_Option]:
        """Find, filter and weigh; the best ``subset`` are shuffled so that parallel
        schedulers facing the same cloud do not all pick the same host."""
        request = self._request(ctx)
        result = self.stack.source.find(request)
        found = [
            _Option(c, result.providers[c.root])
            for c in result.candidates
            if c.root not in attempts.tried
        ]
        if not found and not attempts.candidates:
            reasons = explain_empty(self.store, request)
            raise NoValidHost("the store has no provider that fits", reasons)
        attempts.candidates += len(found)
        self._load_stats(ctx, [o.host for o in found])
        passed = self._filter(found, ctx, attempts.rejections)
        if not passed:
            return []
        weights = weigh([o.host for o in passed], ctx, self.stack.weighers)
        ranked = [o for _, o in sorted(zip(weights, passed, strict=True), key=lambda p: -p[0])]
        top = ranked[: self.stack.subset]
        self.rng.shuffle(top)
        return top + ranked[self.stack.subset :]

    def _filter(
        self, options: list[_Option], ctx: Context, rejections: Counter[str], count: bool = True
    ) -> list[_Option]:
        passed = []
        for option in options:
            for _, check in self.stack.filters:
                reason = check(option.host, ctx)
                if reason is not None:
                    rejections[reason] += 1
                    self.metrics.rejections[reason] += count
                    break
            else:
                passed.append(option)
        return passed

    def explain(self, spec: RequestSpec, top: int = 5) -> Explanation:
        """A dry run of ``spec`` for its first instance: would it fit, where, and if
        not, why, host by host. Nothing is claimed and no metric counts it."""
        ctx = self._prepare(spec)
        request = self._request(ctx)
        hosts, rejected = census(self.store, request)
        result = self.stack.source.find(request)
        options = [_Option(c, result.providers[c.root]) for c in result.candidates]
        self._load_stats(ctx, [o.host for o in options])
        filtered: Counter[str] = Counter()
        passed = self._filter(options, ctx, filtered, count=False)
        rejected.update(filtered)
        if not passed:
            reasons = explain_empty(self.store, request) if not options else []
            reasons += describe_rejections(filtered, 0, len(options)) if options else []
            return Explanation(False, hosts, rejected, (), tuple(reasons))
        weights = weigh([o.host for o in passed], ctx, self.stack.weighers)
        ranked = [o for _, o in sorted(zip(weights, passed, strict=True), key=lambda p: -p[0])]
        names = tuple(o.host.provider.name for o in ranked[:top])
        return Explanation(True, hosts, rejected, names, ())

    # -- helpers ---------------------------------------------------------------------

    def _load_stats(self, ctx: Context, hosts: list[ProviderState]) -> None:
        records = self.store.get_records(HostStats, [h.provider.uuid for h in hosts])
        ctx.stats = {k: r.value for k, r in records.items()}

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
    """Hosts of hard affinity and same_host (None: not pinned)."""
    pinned: set[str] | None = set(ctx.same_hosts) if ctx.spec.same_host else None
    if ctx.group is not None and ctx.group.value.policy is GroupPolicy.AFFINITY:
        hosts = ctx.group_hosts()
        if hosts:
            pinned = hosts if pinned is None else pinned & hosts
    return None if pinned is None else frozenset(pinned)
