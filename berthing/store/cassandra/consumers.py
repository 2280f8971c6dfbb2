"""Consumer records: what each consumer holds, and the change in flight on it.

A change first *pends* every consumer it changes: one LWT per consumer, comparing the
record it read, that names the change (``pclaim``) and says what the consumer holds if
the change lands (``pplan``: its target, and the providers the change writes). While a
consumer is pending, no other change can pend it: that makes consumer generations a
compare-and-set across partitions, and a new consumer's uuid unique (its record is
created with ``IF NOT EXISTS``). Then the change writes the providers.

The record is *finalized* (the pending target becomes the committed fields) by the
consumer's next change, whose pend LWT writes both, or by recovery. Until then whoever
reads the consumer resolves the pending change from the providers' side:

* a change of one provider: the consumer's allocation row there carries the id of the
  operation that wrote it, so "did it land" has an exact answer that never expires;
* a change of several providers: its decision in ``intents`` (``registers.py``).

A pending change older than ``STALE`` whose fate is still open was left by a writer
that died or stalled: recovery decides it, by fencing its provider (one provider) or
by writing "aborted" as its decision (several), so the writer can never land it later.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from berthing.model import Consumer, StoreUnavailable
from berthing.store.cassandra.layout import dumps, loads, now_us
from berthing.store.cassandra.partition import Partitions
from berthing.store.cassandra.registers import Registers
from berthing.store.cassandra.session import Cql, Query, Row
from berthing.store.decide import Held

__all__ = ["STALE", "Committed", "Consumers", "Pending", "View"]

#: Seconds after which a change still in flight is presumed abandoned by its writer.
STALE = 5.0
#: How long a reader waits for a young change in flight before it looks again.
POLL = 0.01
#: Lost changes remembered per process (see ``Consumers.drop``).
DROPPED = 10_000

_COLUMNS = "claim, generation, project, user_id, ctype, allocations, pclaim, pplan, pstarted"
_SELECT = f"SELECT {_COLUMNS} FROM consumers WHERE store = ? AND uuid = ?"
_INSERT = (
    "INSERT INTO consumers (store, uuid, pclaim, pplan, pstarted) VALUES (?, ?, ?, ?, ?) "
    "IF NOT EXISTS"
)
_PEND = (
    "UPDATE consumers SET claim = ?, generation = ?, project = ?, user_id = ?, ctype = ?, "
    "allocations = ?, pclaim = ?, pplan = ?, pstarted = ? WHERE store = ? AND uuid = ? "
    "IF pclaim = ? AND claim = ?"
)
_UNPEND = (
    "UPDATE consumers SET pclaim = null, pplan = null, pstarted = null "
    "WHERE store = ? AND uuid = ? IF pclaim = ?"
)
_FINALIZE = (
    "UPDATE consumers SET claim = ?, generation = ?, project = ?, user_id = ?, ctype = ?, "
    "allocations = ?, pclaim = null, pplan = null, pstarted = null "
    "WHERE store = ? AND uuid = ? IF pclaim = ?"
)
_PROJECT = "INSERT INTO projects (store, project, user_id, consumer) VALUES (?, ?, ?, ?)"

Allocs = dict[str, dict[str, int]]


@dataclass(frozen=True, slots=True)
class Committed:
    """What a consumer holds: the id of the change that wrote it, and its fields
    (``generation`` None: the consumer does not exist)."""

    claim: str | None = None
    generation: int | None = None
    project: str | None = None
    user: str | None = None
    ctype: str | None = None
    allocations: Allocs = field(default_factory=dict)

    def held(self, uuid: str) -> Held | None:
        if self.generation is None or not self.allocations:
            return None
        consumer = Consumer(uuid, self.project or "", self.user or "", self.generation, self.ctype)
        return Held(consumer, self.allocations)

    def values(self) -> tuple[Any, ...]:
        allocs = dumps(self.allocations) if self.allocations else None
        return (self.claim, self.generation, self.project, self.user, self.ctype, allocs)

    @classmethod
    def of(
        cls, claim: str, consumer: Consumer, allocations: Mapping[str, Mapping[str, int]]
    ) -> Committed:
        """The state ``claim`` leaves ``consumer`` in (generation None: removed)."""
        allocs = (
            {p: dict(per) for p, per in allocations.items()}
            if consumer.generation is not None
            else {}
        )
        return cls(
            claim, consumer.generation, consumer.project_id, consumer.user_id,
            consumer.consumer_type, allocs,
        )  # fmt: skip

    @classmethod
    def from_row(cls, uuid: str, row: Row) -> Committed:
        allocs = loads(row["allocations"], f"consumer {uuid}") or {}
        return cls(
            row["claim"], row["generation"], row["project"], row["user_id"], row["ctype"],
            {p: {rc: int(n) for rc, n in per.items()} for p, per in allocs.items()},
        )  # fmt: skip

    def to_doc(self) -> dict[str, Any]:
        return {
            "claim": self.claim,
            "generation": self.generation,
            "project": self.project,
            "user": self.user,
            "ctype": self.ctype,
            "allocations": self.allocations,
        }

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> Committed:
        return cls(
            doc["claim"], doc["generation"], doc["project"], doc["user"], doc["ctype"],
            {p: dict(per) for p, per in (doc["allocations"] or {}).items()},
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Pending:
    """A change in flight on one consumer: what the consumer holds if it lands."""

    op: str
    multi: bool
    legs: tuple[str, ...]
    target: Committed
    started: int = 0

    def to_json(self) -> str:
        return dumps(
            {"op": self.op, "multi": self.multi, "legs": list(self.legs),
             "target": self.target.to_doc()}
        )  # fmt: skip

    @classmethod
    def from_row(cls, uuid: str, row: Row) -> Pending:
        doc = loads(row["pplan"], f"consumer {uuid}")
        target = Committed.from_doc(doc["target"])
        return cls(
            str(doc["op"]), bool(doc["multi"]), tuple(doc["legs"]), target,
            int(row["pstarted"] or 0),
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class View:
    """A consumer as a change must see it: what it holds (a landed pending change
    included), the condition values for pending it, and whether a change is in flight."""

    uuid: str
    row_exists: bool
    committed: Committed
    expect: tuple[str | None, str | None] = (None, None)
    busy: bool = False

    @property
    def held(self) -> Held | None:
        return self.committed.held(self.uuid)


class Consumers:
    def __init__(self, cql: Cql, store: str, partitions: Partitions, registers: Registers) -> None:
        self.cql, self.store = cql, store
        self.partitions, self.registers = partitions, registers
        #: Consumers this process left pending with a change that lost its race and can
        #: never land (no LWT of it was applied, none is in flight): the consumer's next
        #: change here overwrites it at once, without an LWT to clear it first.
        self._dropped: OrderedDict[str, View] = OrderedDict()
        self._dropped_lock = threading.Lock()

    def drop(self, view: View, op: str) -> None:
        """``op`` lost on every provider before writing any: remember the record as it
        now is (pending ``op``, otherwise as ``view`` saw it)."""
        left = View(view.uuid, True, view.committed, (op, view.committed.claim))
        with self._dropped_lock:
            self._dropped[view.uuid] = left
            while len(self._dropped) > DROPPED:
                self._dropped.popitem(last=False)

    def dropped(self, uuid: str) -> View | None:
        """The record as this process left it after a lost change (see ``drop``)."""
        with self._dropped_lock:
            return self._dropped.get(uuid)

    def forget_dropped(self, uuid: str) -> None:
        """A pend of ``uuid`` was sent: whether it applied or not, the record is no longer
        as this process left it, and a kept view would make every later change of the
        consumer here lose on a stale compare."""
        with self._dropped_lock:
            self._dropped.pop(uuid, None)

    def _was_dropped(self, uuid: str, op: str) -> bool:
        with self._dropped_lock:
            left = self._dropped.get(uuid)
            return left is not None and left.expect[0] == op

    # -- reading --------------------------------------------------------------------------

    def view(self, uuid: str, wait: bool = True) -> View:
        """The consumer; with ``wait``, once no young change is in flight on it (changes
        older than STALE are decided by recovery here). Without ``wait`` (a reader), a
        change found landed is settled into the record, so the next read is one read."""
        while True:
            found = self._view(uuid)
            if not wait and found.expect[0] is not None and not found.busy:
                self._settle_read(found)
            if not found.busy or not wait:
                return found
            time.sleep(POLL)

    def _settle_read(self, found: View) -> None:
        op = found.expect[0]
        assert op is not None
        with contextlib.suppress(StoreUnavailable):  # a reader's courtesy: skip if it fails
            if found.committed.claim == op:
                self.finalize(found.uuid, op, found.committed)
            else:
                self.unpend(found.uuid, op)

    def _view(self, uuid: str) -> View:
        rows = self.cql.read(_SELECT, (self.store, uuid), "reading a consumer")
        if not rows:
            return View(uuid, False, Committed())
        row = rows[0]
        committed = Committed.from_row(uuid, row)
        expect = (row["pclaim"], row["claim"])
        if row["pclaim"] is None:
            return View(uuid, True, committed, expect)
        pending = Pending.from_row(uuid, row)
        fate = (
            "aborted"
            if self._was_dropped(uuid, pending.op)
            else self.fate(uuid, committed, pending)
        )
        if fate == "landed":
            return View(uuid, True, pending.target, expect)
        return View(uuid, True, committed, expect, busy=fate == "busy")

    def fate(self, uuid: str, before: Committed, pending: Pending) -> str:
        """ "landed", "aborted", or "busy" (young and undecided) for a pending change."""
        stale = now_us() - pending.started > STALE * 1e6
        if not pending.legs:
            return "landed"  # nothing to write but the consumer: the pend was the write
        if pending.multi:
            decision = self.registers.decision(pending.op, decide_abort=stale)
            return {"committed": "landed", "aborted": "aborted"}.get(decision or "", "busy")
        leg = pending.legs[0]
        if self._landed_on(leg, uuid, before, pending):
            return "landed"
        if not stale:
            return "busy"
        # Abandoned: make sure it can never land, unless it just did.
        return "landed" if self.partitions.fence(leg, pending.op) == "applied" else "aborted"

    def _landed_on(self, leg: str, uuid: str, before: Committed, pending: Pending) -> bool:
        """Whether the one-provider change landed, from the consumer's allocation row
        (exact and lasting) where it tells, else from the operation's marker."""
        row = self.partitions.allocation(leg, uuid)
        if pending.target.allocations.get(leg):
            return row is not None and row[1] == pending.op
        if before.allocations.get(leg):
            return row is None  # the change removes the row; nothing else may
        return self.partitions.marker(leg, pending.op) == "applied"

    # -- writing --------------------------------------------------------------------------

    def pend(self, view: View, pending: Pending) -> bool:
        """Mark the consumer as changed by ``pending`` if it is still as ``view`` saw it.
        Also records the consumer under its project for ``usages``."""
        target = pending.target
        side: list[Query] = []
        if target.project is not None:
            side.append((_PROJECT, (self.store, target.project, target.user, view.uuid)))
        if not view.row_exists:
            q: Query = (_INSERT, (self.store, view.uuid, pending.op, pending.to_json(), now_us()))
        else:
            q = (
                _PEND,
                (*view.committed.values(), pending.op, pending.to_json(), now_us(),
                 self.store, view.uuid, *view.expect),
            )  # fmt: skip
        result = self.cql.cas([q], "pending a consumer", side)
        if result is None:
            return self._pclaim(view.uuid) == pending.op
        return result.applied

    def unpend(self, uuid: str, op: str) -> None:
        """Drop change ``op`` from the consumer (it did not land)."""
        self._settle(uuid, op, (_UNPEND, (self.store, uuid, op)))

    def finalize(self, uuid: str, op: str, target: Committed) -> None:
        """Make landed change ``op`` the consumer's committed state."""
        self._settle(uuid, op, (_FINALIZE, (*target.values(), self.store, uuid, op)))

    def _settle(self, uuid: str, op: str, q: Query) -> None:
        started = time.monotonic()
        while self.cql.cas([q], "settling a consumer") is None and self._pclaim(uuid) == op:
            # Unknown and not landed (the SERIAL read settled that it never will): sent
            # again, which ``IF pclaim = op`` makes harmless, rather than failing a
            # change that is already committed with StoreUnavailable.
            if time.monotonic() - started > self.cql.timeout:
                raise StoreUnavailable(
                    f"Could not settle consumer {uuid} after change {op}.",
                    hint="It stays pending; the next reader of the consumer settles it.",
                )

    def _pclaim(self, uuid: str) -> str | None:
        rows = self.cql.serial_read(_SELECT, (self.store, uuid), "resolving a consumer LWT")
        return rows[0]["pclaim"] if rows else None

    def of_project(self, project: str, user: str | None) -> list[str]:
        """Consumers ever recorded under the project (and user): candidates, to be read."""
        if user is None:
            rows = self.cql.read(
                "SELECT consumer FROM projects WHERE store = ? AND project = ?",
                (self.store, project),
            )
        else:
            rows = self.cql.read(
                "SELECT consumer FROM projects WHERE store = ? AND project = ? AND user_id = ?",
                (self.store, project, user),
            )
        return [str(r["consumer"]) for r in rows]
