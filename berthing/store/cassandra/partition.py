"""Provider partitions: reads, and the one lightweight transaction (LWT) per write.

Every write to a provider is ONE conditional batch on its partition:

* the static row rewritten whole (the new ``PState``), on condition that ``version``
  is still the one the write was decided on and no multi-provider change holds the
  provider (``frozen = null``); or, while frozen, that the freeze is the writer's own;
* the operation's marker row (``kind='x'``, id = operation id, an hour's TTL), on
  condition that it is absent (or in the state the protocol expects);
* the allocation rows the write changes.

A lost race (the version moved) is decided again on a fresh read: the caller's
``build`` either finds a real conflict in the new state or produces the next attempt.
An unknown outcome is resolved by a SERIAL read of the marker row, never guessed; an
operation that finds its own marker already there knows its earlier attempt landed.
A marker that a recoverer wrote first (``aborted``) fences the operation for good:
``Fenced`` is raised and nothing is written.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

from berthing.model import StoreUnavailable
from berthing.store.cassandra.layout import (
    MARKER_TTL,
    PState,
    after,
    dumps,
    inventories_to,
    loads,
)
from berthing.store.cassandra.session import Cql, Query, Row

__all__ = ["CONTENTION_LIMIT", "Fenced", "Partitions", "Plan"]

T = TypeVar("T")

STATIC = (
    "version", "generation", "name", "parent", "root", "traits", "aggregates", "shuffle",
    "created", "inventories", "used", "children", "frozen", "frozen_at", "frozen_by",
)  # fmt: skip
_SET = ", ".join(f"{c} = ?" for c in STATIC)
_WHERE = "WHERE store = ? AND uuid = ?"
_SELECT = f"SELECT uuid, {', '.join(STATIC)} FROM providers {_WHERE} PER PARTITION LIMIT 1"
_CONDITIONS = {
    "new": "IF version = null",
    "version": "IF version = ? AND frozen = null",
    "frozen": "IF frozen = ?",
}
_MARKER = (
    f"UPDATE providers USING TTL {MARKER_TTL} SET state = ? {_WHERE} "
    "AND kind = 'x' AND id = ? IF state = ?"
)
_MARKER_READ = f"SELECT state FROM providers {_WHERE} AND kind = 'x' AND id = ?"
_ALLOCS = f"SELECT id, amounts FROM providers {_WHERE} AND kind = 'a'"
_ALLOC_ONE = f"SELECT id, amounts, state FROM providers {_WHERE} AND kind = 'a' AND id = ?"
_ALLOC_PUT = f"UPDATE providers SET amounts = ?, state = ? {_WHERE} AND kind = 'a' AND id = ?"
_ALLOC_DEL = f"DELETE FROM providers {_WHERE} AND kind = 'a' AND id = ?"
#: How long one write may keep losing races before it gives up.
CONTENTION_LIMIT = 30.0


class Fenced(Exception):
    """A recoverer decided this operation's fate first: it was stopped, not applied."""


@dataclass(frozen=True, slots=True)
class Plan(Generic[T]):
    """One write to one provider: its state afterwards (None: deleted), the allocation
    rows it changes (consumer -> amounts, None to delete), and what to return."""

    new: PState | None
    value: T
    allocations: Mapping[str, Mapping[str, int] | None] = field(default_factory=dict)
    version: int = 0
    #: False: nothing to write (``value`` is the answer, e.g. a conflict found in the read).
    write: bool = True


#: Called when a write meets a provider frozen by another operation: wait for it or
#: recover it; the partition is read again afterwards.
OnFrozen = Callable[[PState], None]
#: Called with every state this process wrote (None: deleted), for the catalogue.
Publish = Callable[[str, PState | None, int], None]


class Partitions:
    """Reads and conditional writes of provider partitions of one store."""

    def __init__(self, cql: Cql, store: str, publish: Publish) -> None:
        self.cql, self.store, self.publish = cql, store, publish
        self.on_frozen: OnFrozen = lambda state: time.sleep(0.01)

    # -- reads ----------------------------------------------------------------------------

    def read(self, uuid: str) -> PState | None:
        return self.read_many([uuid])[uuid]

    def read_many(self, uuids: Iterable[str]) -> dict[str, PState | None]:
        wanted = list(dict.fromkeys(uuids))
        found = self.cql.reads([(_SELECT, (self.store, u)) for u in wanted], "reading providers")
        return {
            u: PState.from_row(u, rows[0] if rows else None)
            for u, rows in zip(wanted, found, strict=False)
        }

    def allocations(self, uuid: str) -> dict[str, dict[str, int]]:
        rows = self.cql.read(_ALLOCS, (self.store, uuid), "reading allocations")
        return {str(r["id"]): _amounts(r) for r in rows if r["amounts"]}

    def state_and_allocations(self, uuid: str) -> tuple[PState | None, dict[str, dict[str, int]]]:
        """The provider and the allocations against it, read at once."""
        state_rows, rows = self.cql.reads(
            [(_SELECT, (self.store, uuid)), (_ALLOCS, (self.store, uuid))], "reading allocations"
        )
        state = PState.from_row(uuid, state_rows[0] if state_rows else None)
        return state, {str(r["id"]): _amounts(r) for r in rows if r["amounts"]}

    def allocation(self, uuid: str, consumer: str) -> tuple[dict[str, int], str | None] | None:
        """``consumer``'s allocation row on ``uuid``: amounts and the operation that
        wrote it; None if there is none."""
        rows = self.cql.read(_ALLOC_ONE, (self.store, uuid, consumer), "reading an allocation")
        if not rows or not rows[0]["amounts"]:
            return None
        return _amounts(rows[0]), rows[0]["state"]

    def marker(self, uuid: str, op: str, serial: bool = False) -> str | None:
        """The state of operation ``op``'s marker on ``uuid``; SERIAL first completes any
        Paxos round in progress, so an absent marker then stays absent unless written."""
        params = (self.store, uuid, op)
        if serial:
            rows = self.cql.serial_read(_MARKER_READ, params, "resolving an LWT")
        else:
            rows = self.cql.read(_MARKER_READ, params, "reading a marker")
        return str(rows[0]["state"]) if rows and rows[0]["state"] else None

    # -- writes ---------------------------------------------------------------------------

    def write(
        self,
        uuid: str,
        op: str,
        what: str,
        build: Callable[[PState | None, int], Plan[T]],
        first: PState | None = None,
        marker: str = "applied",
    ) -> Plan[T]:
        """Decide with ``build(state, new_version)`` and write the plan in one LWT,
        deciding again on fresh data after each lost race (``first``: a state to try
        first instead of reading, e.g. the catalogue's; ``marker``: the state the
        operation's marker is written in)."""
        state = first if first is not None else self.read(uuid)
        started, lost = time.monotonic(), 0
        while True:
            if state is not None and state.frozen is not None:
                self.on_frozen(state)
                state = self.read(uuid)
                continue
            version = after(state.version if state else None)
            plan = replace(build(state, version), version=version)
            if not plan.write:
                return plan
            cond = ("version", state.version) if state is not None else ("new", None)
            if self.apply(uuid, op, what, plan, cond, (marker, None)):
                return plan
            lost += 1
            _back_off(what, lost, started)
            state = self.read(uuid)

    def apply(
        self,
        uuid: str,
        op: str,
        what: str,
        plan: Plan[Any],
        cond: tuple[str, Any],
        marker: tuple[str, str | None],
    ) -> bool:
        """One LWT: ``plan`` if the static row meets ``cond`` (kind, value) and the
        marker is in state ``marker[1]`` (it becomes ``marker[0]``). True if applied
        (now or by an earlier attempt of ``op``); raises ``Fenced`` if recovery wrote
        the marker first."""
        queries = self._statements(uuid, op, plan, cond, marker)
        started = time.monotonic()
        while (result := self.cql.cas(queries, what)) is None:
            found = self.marker(uuid, op, serial=True)
            if found != marker[1]:
                landed = found == marker[0]
                break
            # Not landed is not a lost race: its conditions may still hold (a leg frozen
            # by its own committed change was reported corrupt when a node died under
            # the storm, tests/store/test_cassandra_faults.py). The SERIAL read completed
            # or superseded its Paxos round, so it never lands: the same LWT, guarded by
            # the marker, is sent again.
            self._unresolved(what, uuid, started)
        else:
            landed = result.applied or _marker_of(result.rows) == marker[0]
            if not landed and _marker_of(result.rows) == "aborted":
                raise Fenced(f"{what} on {uuid} was stopped by recovery")
        if landed:
            self.publish(uuid, plan.new, plan.version)
        return landed

    def _unresolved(self, what: str, uuid: str, started: float) -> None:
        if time.monotonic() - started > self.cql.timeout:
            raise self.cql.unavailable(
                f"{what} on {uuid}", "every attempt had an unknown outcome; none landed"
            )

    def fence(self, uuid: str, op: str) -> str:
        """Make sure ``op`` never lands on ``uuid``: write its marker as ``aborted`` unless
        it is there already. Returns the marker's state afterwards."""
        q: Query = (_MARKER, ("aborted", self.store, uuid, op, None))
        result = self.cql.cas([q], "fencing a stalled operation")
        if result is None:
            return self.marker(uuid, op, serial=True) or "aborted"
        return "aborted" if result.applied else (_marker_of(result.rows) or "aborted")

    def _statements(
        self,
        uuid: str,
        op: str,
        plan: Plan[Any],
        cond: tuple[str, Any],
        marker: tuple[str, str | None],
    ) -> list[Query]:
        kind, value = cond
        static = f"UPDATE providers SET {_SET} {_WHERE} {_CONDITIONS[kind]}"
        params = (*_static_values(plan.new), self.store, uuid)
        queries: list[Query] = [(static, params if kind == "new" else (*params, value))]
        queries.append((_MARKER, (marker[0], self.store, uuid, op, marker[1])))
        for consumer, amounts in sorted(plan.allocations.items()):
            if amounts:
                queries.append((_ALLOC_PUT, (dumps(dict(amounts)), op, self.store, uuid, consumer)))
            else:
                queries.append((_ALLOC_DEL, (self.store, uuid, consumer)))
        return queries


def _static_values(state: PState | None) -> tuple[Any, ...]:
    if state is None:
        return (None,) * len(STATIC)
    return (
        state.version,
        state.generation,
        state.name,
        state.parent,
        state.root,
        set(state.traits),
        set(state.aggregates),
        state.shuffle,
        state.created,
        dumps(inventories_to(state.inventories)),
        {rc: n for rc, n in state.used.items() if n},
        set(state.children),
        state.frozen,
        state.frozen_at or None,
        state.frozen_by or None,
    )


def _marker_of(rows: Sequence[Row]) -> str | None:
    for row in rows:
        if row.get("kind") == "x" and row.get("state"):
            return str(row["state"])
    return None


def _amounts(row: Row) -> dict[str, int]:
    doc = loads(row["amounts"], "an allocation row")
    return {str(rc): int(n) for rc, n in doc.items()}


def _back_off(what: str, lost: int, started: float) -> None:
    if time.monotonic() - started > CONTENTION_LIMIT:
        raise StoreUnavailable(
            f"{what} lost {lost} compare-and-set races in a row over "
            f"{CONTENTION_LIMIT:.0f}s; nothing was written.",
            hint="Too many writers are changing the same provider; retry later.",
        )
    if lost > 2:
        # Several losses in a row: many writers on one partition. Random spacing lets
        # one of them win instead of all retrying in lock-step (and Paxos contention
        # on one partition is costly for everyone).
        time.sleep(random.uniform(0, min(0.002 * 2**lost, 0.1)))
