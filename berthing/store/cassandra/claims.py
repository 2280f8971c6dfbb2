"""Claims: a change of consumers' allocations, written with lightweight transactions.

Both paths start the same way: read the consumers the change names (a new consumer is
not read: its record is created with ``IF NOT EXISTS``), decide with ``store.decide``
on the providers' state as this process knows it (so a conflict costs no write), then
*pend* each consumer (one LWT each, see ``consumers.py``).

**One provider** (a VM on a host; the scheduler's hot path): ONE LWT on the provider's
partition that compares the version the decision was made on and writes the new usage,
generation and allocation rows with the operation's marker. A lost race is decided
again on a fresh read of that one partition: the real conflict, or the next attempt.

**Several providers** (a host and its shared storage pool, a host and its children,
several consumers at once, the reshaper): Cassandra has no multi-partition transaction,
so the providers are *frozen* one LWT each, in uuid order (two changes never wait for
each other in a circle), which makes the state they read final; the change is decided
on it; the decision is written once in ``intents`` (the commit point); each provider
then gets its part and is unfrozen. A conflict unfreezes everything unchanged (the
compensation), before the commit point nothing any reader sees has changed, and after
it whoever finds a leg still frozen applies the committed plan. A change left behind
by a dead writer is decided ``aborted`` by the first process that finds it older than
``STALE`` (a writer touching a frozen provider, a reader of the consumer, or the
sweeper that every store process runs over its catalogue), so it holds providers for
at most about ``STALE`` plus one sweep.
"""

from __future__ import annotations

import contextlib
import time
import uuid as uuidlib
from collections.abc import Callable, Mapping
from typing import Any

from berthing.model import (
    AllocationChange,
    ClaimConflict,
    Claimed,
    ClaimResult,
    Consumer,
    ConsumerAllocations,
    ConsumerNotFound,
    GenerationConflict,
    StoreCorrupt,
    StoreUnavailable,
)
from berthing.store.cassandra.consumers import POLL, STALE, Committed, Consumers, Pending, View
from berthing.store.cassandra.layout import PState, after, now_us, state_from_json
from berthing.store.cassandra.partition import Fenced, Partitions, Plan
from berthing.store.cassandra.registers import Registers
from berthing.store.decide import Decision, Held, Snapshot, decide, providers_involved

__all__ = ["Claims", "new_op"]

#: How long one claim may keep finding its consumers changed under it.
DEADLINE = 30.0

Cached = Callable[[str], PState | None]


def new_op() -> str:
    """An operation id: marks everything one operation writes."""
    return uuidlib.uuid4().hex


class _Again(Exception):
    """A consumer changed between reading and pending it: start over on fresh reads."""


class Claims:
    def __init__(
        self, partitions: Partitions, consumers: Consumers, registers: Registers, cached: Cached
    ) -> None:
        self.partitions, self.consumers, self.registers = partitions, consumers, registers
        self.cached = cached
        partitions.on_frozen = self.on_frozen

    # -- the contract's operations ----------------------------------------------------------

    def commit(self, change: AllocationChange) -> ClaimResult:
        started, guess = time.monotonic(), True
        while True:
            try:
                return self._commit(change, new_op(), guess)
            except _Again:
                guess = False  # a consumer taken for new exists: read them all next time
                if time.monotonic() - started > DEADLINE:
                    raise StoreUnavailable(
                        f"The consumers of a change kept changing for {DEADLINE:.0f}s.",
                        hint="Something else keeps changing them; retry later.",
                    ) from None
                time.sleep(POLL)

    def release(self, uuid: str, generation: int | None) -> None:
        while True:
            held = self.consumers.view(uuid).held
            if held is None:
                raise ConsumerNotFound(uuid)
            if generation is not None and generation != held.consumer.generation:
                raise GenerationConflict("Consumer", uuid, generation, held.consumer.generation)
            gone = ConsumerAllocations(held.consumer, {})
            if self.commit(AllocationChange((gone,))).ok:
                return

    def allocations(self, uuid: str) -> tuple[Consumer, dict[str, dict[str, int]]]:
        held = self.consumers.view(uuid, wait=False).held
        if held is None:
            raise ConsumerNotFound(uuid)
        return held.consumer, {p: dict(per) for p, per in held.allocations.items()}

    # -- commit ---------------------------------------------------------------------------

    def _commit(self, change: AllocationChange, op: str, guess: bool) -> ClaimResult:
        views = self._views(change, guess)
        held = {u: v.held for u, v in views.items()}
        legs = sorted(providers_involved(change, held))
        early = self._early(change, held, legs)
        if not isinstance(early, Decision):
            return early
        self._pend_all(change, op, views, early, legs)
        try:
            if len(legs) <= 1:
                return self._one(change, op, views, legs)
            return self._many(change, op, held, legs, early)
        except Fenced:
            raise StoreUnavailable(
                f"A change stalled for over {STALE:.0f}s and was stopped by recovery; "
                "nothing of it was applied.",
                hint="Retry it.",
            ) from None

    def _views(self, change: AllocationChange, guess: bool) -> dict[str, View]:
        """The consumers as a change must see them; with ``guess``, one that must be new
        is taken to be, unread (the scheduler's case: one round trip less)."""
        views = {}
        for ca in change.consumers:
            u = ca.consumer.uuid
            left = self.consumers.dropped(u)
            if left is not None:
                views[u] = left  # as this process left it: pend compares that
            elif guess and ca.check_generation and ca.consumer.generation is None:
                # Must be new: not read; creating its record (IF NOT EXISTS) checks that.
                views[u] = View(u, False, Committed())
            else:
                views[u] = self.consumers.view(u)
        return views

    def _early(
        self, change: AllocationChange, held: Mapping[str, Held | None], legs: list[str]
    ) -> Decision | ClaimConflict:
        """Decide on the catalogue's state; a conflict there is confirmed on fresh reads
        (the catalogue may be stale) before it is returned."""
        states = {p: self.cached(p) for p in legs}
        decision = decide(change, held, _snapshots(states))
        if isinstance(decision, Decision):
            return decision
        fresh = self.partitions.read_many(legs)
        return decide(change, held, _snapshots(fresh))

    def _pend_all(
        self,
        change: AllocationChange,
        op: str,
        views: Mapping[str, View],
        decision: Decision,
        legs: list[str],
    ) -> None:
        done: list[str] = []
        pairs = zip(change.consumers, decision.consumers, strict=True)
        for ca, new in sorted(pairs, key=lambda pair: pair[0].consumer.uuid):
            u = ca.consumer.uuid
            target = Committed.of(op, new, ca.allocations)
            pended = self.consumers.pend(views[u], Pending(op, len(legs) > 1, tuple(legs), target))
            self.consumers.forget_dropped(u)
            if not pended:
                self._unpend(done, op)
                raise _Again
            done.append(u)

    def _unpend(self, uuids: list[str], op: str) -> None:
        for u in uuids:
            self.consumers.unpend(u, op)

    # -- one provider ---------------------------------------------------------------------

    def _one(
        self, change: AllocationChange, op: str, views: Mapping[str, View], legs: list[str]
    ) -> ClaimResult:
        uuids = [ca.consumer.uuid for ca in change.consumers]
        held = {u: v.held for u, v in views.items()}
        if not legs:
            decision = decide(change, held, {})
            assert isinstance(decision, Decision), decision  # nothing to conflict with
            return Claimed(decision.consumers)
        p = legs[0]

        def build(state: PState | None, version: int) -> Plan[Decision | ClaimConflict]:
            return _leg(change, held, p, state, version)

        try:
            plan = self.partitions.write(p, op, "a claim", build, first=self.cached(p))
        except StoreUnavailable:
            # The write may have landed: the consumers stay pending, and whoever reads
            # them next finds out from the provider (or fences it once it is stale).
            raise
        except BaseException:
            self._unpend_quietly(uuids, op)  # nothing was written (bad amounts, ...)
            raise
        if not isinstance(plan.value, Decision):
            # Lost: no LWT of ``op`` landed or can land. Its consumers stay marked with
            # it; their next change here overwrites that (an LWT saved per lost race).
            for u in uuids:
                self.consumers.drop(views[u], op)
            return plan.value
        return Claimed(plan.value.consumers)

    def _unpend_quietly(self, uuids: list[str], op: str) -> None:
        """Best effort after a failure: what stays pending is settled by its next reader."""
        with contextlib.suppress(StoreUnavailable):
            self._unpend(uuids, op)

    # -- several providers ------------------------------------------------------------------

    def _many(
        self,
        change: AllocationChange,
        op: str,
        held: Mapping[str, Held | None],
        legs: list[str],
        early: Decision,
    ) -> ClaimResult:
        uuids = sorted(ca.consumer.uuid for ca in change.consumers)
        frozen: dict[str, PState | None] = {}
        try:
            for p in legs:
                frozen[p] = self._freeze(p, op, uuids)
            decision = decide(change, held, _snapshots(frozen))
            if not isinstance(decision, Decision):
                self._abort(op, frozen, uuids)
                return decision
            plan = _multi_plan(change, held, op, decision, frozen)
            state, stored = self.registers.decide(op, "committed", plan)
        except StoreUnavailable:
            # The retry budget is spent (a majority down, most likely): settling now
            # would spend it once more before the caller hears (measured: a claim failed
            # after 21 s instead of 10 with two of three nodes killed). What the change
            # holds is recovered after STALE, as a dead writer's is.
            raise
        except BaseException:
            self._settle_quietly(op, frozen, uuids)
            raise
        if state != "committed":
            self._abort(op, frozen, uuids)
            raise Fenced(op)
        self._apply_plan(op, stored)
        return Claimed(decision.consumers)

    def _freeze(self, p: str, op: str, uuids: list[str]) -> PState | None:
        """Hold ``p`` for change ``op``: no other write lands on it until it is unfrozen."""

        def build(state: PState | None, version: int) -> Plan[None]:
            if state is None:
                return Plan(None, None, write=False)
            new = state.moved(version, frozen=op, frozen_at=now_us(), frozen_by=",".join(uuids))
            return Plan(new, None)

        return self.partitions.write(p, op, "freezing a provider", build, marker="frozen").new

    def _apply_plan(self, op: str, plan: Mapping[str, Any]) -> None:
        """Apply every leg of a committed plan (idempotent), then settle its consumers."""
        for p, leg in sorted(plan["legs"].items()):
            self._apply_leg(op, p, leg)
        for u, target in sorted(plan["consumers"].items()):
            self.consumers.finalize(u, op, Committed.from_doc(target))

    def _apply_leg(self, op: str, p: str, leg: Mapping[str, Any]) -> None:
        new = state_from_json(p, leg["state"])
        allocations = {c: a for c, a in leg["allocations"].items()}
        applied = self.partitions.apply(
            p, op, "applying a claim", Plan(new, None, allocations, int(leg["version"])),
            ("frozen", op), ("applied", "frozen"),
        )  # fmt: skip
        if not applied:
            raise StoreCorrupt(
                f"Provider {p} is neither frozen by committed change {op} nor changed by it.",
                hint="Something else wrote the provider during the change; run berthing check.",
            )

    def _abort(self, op: str, frozen: Mapping[str, PState | None], uuids: list[str]) -> None:
        for state in frozen.values():
            if state is not None:
                self._unfreeze(state, op)
        self._unpend(uuids, op)

    def _settle_quietly(
        self, op: str, frozen: Mapping[str, PState | None], uuids: list[str]
    ) -> None:
        """After a failure mid-change: abort it, unless its commit landed after all."""
        try:
            state, plan = self.registers.decide(op, "aborted")
            if state == "committed":
                self._apply_plan(op, plan)
            else:
                self._abort(op, frozen, uuids)
        except (StoreUnavailable, Fenced):
            pass  # what stays frozen or pending is recovered after STALE

    def _unfreeze(self, state: PState, op: str) -> None:
        version = after(state.version)
        new = state.moved(version, frozen=None, frozen_at=0, frozen_by="")
        self.partitions.apply(
            state.uuid, op, "unfreezing a provider", Plan(new, None, version=version),
            ("frozen", op), ("aborted", "frozen"),
        )  # fmt: skip

    # -- other multi-provider changes ---------------------------------------------------------

    def transact(
        self,
        uuids: list[str],
        compute: Callable[[dict[str, PState | None]], Mapping[str, PState]],
    ) -> dict[str, PState]:
        """Change several providers at once (a subtree move): freeze them in order,
        ``compute`` their new states on the frozen ones, commit, apply."""
        op = new_op()
        frozen: dict[str, PState | None] = {}
        try:
            for p in uuids:
                frozen[p] = self._freeze(p, op, [])
            plan = _states_plan(frozen, compute(frozen))
            decision, stored = self.registers.decide(op, "committed", plan)
        except StoreUnavailable:
            raise  # recovered after STALE (see _many)
        except BaseException:
            self._settle_quietly(op, frozen, [])
            raise
        if decision != "committed":
            self._abort(op, frozen, [])
            raise StoreUnavailable(
                f"A change of {len(uuids)} providers stalled and was stopped by recovery.",
                hint="Nothing of it was applied; retry it.",
            )
        self._apply_plan(op, stored)
        return {
            p: s for p, leg in stored["legs"].items() if (s := state_from_json(p, leg["state"]))
        }

    # -- recovery -------------------------------------------------------------------------

    def on_frozen(self, state: PState) -> None:
        """A write met ``state`` frozen by another change: wait while it is young,
        recover it once it is stale."""
        if now_us() - state.frozen_at < STALE * 1e6:
            time.sleep(POLL)
            return
        self.recover(state)

    def recover(self, state: PState) -> None:
        """Finish or undo the change holding ``state`` (a dead writer's, presumably)."""
        op = state.frozen
        if op is None:
            return
        decision, plan = self.registers.decide(op, "aborted")
        if decision == "committed":
            self._apply_plan(op, plan)
        else:
            self._unfreeze(state, op)


def _snapshots(states: Mapping[str, PState | None]) -> dict[str, Snapshot | None]:
    return {p: _snapshot(s) for p, s in states.items()}


def _snapshot(state: PState | None) -> Snapshot | None:
    return None if state is None else Snapshot(state.generation, state.inventories, state.used)


def _leg(
    change: AllocationChange,
    held: Mapping[str, Held | None],
    p: str,
    state: PState | None,
    version: int,
) -> Plan[Decision | ClaimConflict]:
    """The one-provider write of ``change`` on ``state``, or the conflict it meets."""
    decision = decide(change, held, {p: _snapshot(state)})
    if not isinstance(decision, Decision) or state is None:
        return Plan(state, decision, write=False)
    new = _after(state, decision, p, version)
    return Plan(new, decision, _rows(change, held, p))


def _after(state: PState, decision: Decision, p: str, version: int) -> PState:
    if p not in decision.touched:
        return state.moved(version)  # only its generation was checked
    return state.moved(
        version,
        generation=state.generation + 1,
        used=dict(decision.used[p]),
        inventories=dict(decision.inventories.get(p, state.inventories)),
    )


def _rows(
    change: AllocationChange, held: Mapping[str, Held | None], p: str
) -> dict[str, Mapping[str, int] | None]:
    """Allocation rows on ``p``: each consumer's new amounts, or None to delete."""
    rows: dict[str, Mapping[str, int] | None] = {}
    for ca in change.consumers:
        h = held.get(ca.consumer.uuid)
        if p in ca.allocations:
            rows[ca.consumer.uuid] = ca.allocations[p]
        elif h is not None and p in h.allocations:
            rows[ca.consumer.uuid] = None
    return rows


def _states_plan(frozen: Mapping[str, PState | None], new: Mapping[str, PState]) -> dict[str, Any]:
    legs: dict[str, Any] = {}
    for p, state in sorted(frozen.items()):
        if state is None:
            continue
        version = after(state.version)
        out = new.get(p, state).moved(version, frozen=None, frozen_at=0, frozen_by="")
        legs[p] = {"state": out.to_json(), "version": version, "allocations": {}}
    return {"legs": legs, "consumers": {}}


def _multi_plan(
    change: AllocationChange,
    held: Mapping[str, Held | None],
    op: str,
    decision: Decision,
    frozen: Mapping[str, PState | None],
) -> dict[str, Any]:
    """What every leg gets, as JSON: written as the commit, applied by whoever finishes."""
    legs: dict[str, Any] = {}
    for p, state in sorted(frozen.items()):
        assert state is not None  # a missing provider made decide() conflict
        version = after(state.version)
        new = _after(state, decision, p, version).moved(
            version, frozen=None, frozen_at=0, frozen_by=""
        )
        rows = {c: None if a is None else dict(a) for c, a in _rows(change, held, p).items()}
        legs[p] = {"state": new.to_json(), "version": version, "allocations": rows}
    consumers = {}
    for ca, new_consumer in zip(change.consumers, decision.consumers, strict=True):
        consumers[ca.consumer.uuid] = Committed.of(op, new_consumer, ca.allocations).to_doc()
    return {"legs": legs, "consumers": consumers}
