"""The in-memory catalogue ``find_providers`` and ``shape`` answer from.

Cassandra has no query that answers "providers with 4 VCPU free, these traits, in
these aggregates" across partitions without scanning them all (an SAI index can
filter single columns, but a fit is a computation over inventories and usage; see
docs/cassandra.md for the measurement). So each store process keeps every provider's
static row in memory, as etcd's backend does, fed from three sources:

* its own writes, applied the moment their LWT lands (read your writes);
* the ``feed`` table: after every write, the writer appends the provider's new state
  under the time it landed; each process reads what is new there at most every
  ``FRESH`` seconds when asked a query (and every second in the background), looking
  back ``OVERLAP`` for rows whose write took that long to arrive;
* a full list of the ``catalogue`` table (one row per provider, newest version wins)
  at open and every ``RELIST`` seconds, which repairs anything the feed missed.

A newer ``version`` always wins, so the sources may arrive in any order.

The catalogue only chooses candidates. A claim compares the provider's version in
its LWT, so a stale entry costs a failed LWT and a re-read of that one provider
(which refreshes the entry), never a wrong claim.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from berthing.model import SHARING_TRAIT, ProviderQuery, StoreShape
from berthing.store.cassandra.layout import BUCKETS, PState, state_from_json, version_of
from berthing.store.cassandra.session import Cql
from berthing.store.sampling import seed_start

__all__ = ["FRESH", "OVERLAP", "RELIST", "Catalogue"]

#: A query reads the feed first if the last read is older than this (seconds).
FRESH = 0.1
#: How far back each feed read looks (seconds) for writes that landed late.
OVERLAP = 2.0
#: Seconds between full lists of the catalogue table.
RELIST = 60.0
#: Width of one feed partition (microseconds).
SLOT_US = 10_000_000

_FEED = "SELECT version, uuid, state FROM feed WHERE store = ? AND slot = ? AND version > ?"
_LIST = "SELECT uuid, state FROM catalogue WHERE store = ? AND bucket = ?"


@dataclass(frozen=True, slots=True)
class _Gone:
    version: int


class Catalogue:
    """Providers of one store, newest version of each."""

    def __init__(self, cql: Cql, store: str) -> None:
        self.cql, self.store = cql, store
        self._lock = threading.Lock()
        self._poll_lock = threading.Lock()
        self._entries: dict[str, PState | _Gone] = {}
        #: (shuffle, uuid) of live providers, sorted: a seeded query walks it.
        self._ranked: list[tuple[int, str]] = []
        self._nested: set[str] = set()
        self._sharing: set[str] = set()
        self._polled = 0.0  # monotonic time of the last feed read
        self._cursor = 0  # feed time (µs) up to which rows were read
        self._listed = 0.0
        self.relists = 0

    # -- sources --------------------------------------------------------------------------

    def apply(self, uuid: str, state: PState | None, version: int) -> None:
        """Take ``state`` (None: deleted at ``version``) unless a newer one is known."""
        with self._lock:
            known = self._entries.get(uuid)
            if known is not None and _version(known) >= version:
                return
            self._forget(uuid)
            if state is None:
                self._entries[uuid] = _Gone(version)
                return
            self._entries[uuid] = state
            bisect.insort(self._ranked, (state.shuffle, uuid))
            _mark(self._nested, uuid, state.parent is not None)
            _mark(self._sharing, uuid, SHARING_TRAIT in state.traits)

    def _forget(self, uuid: str) -> None:
        old = self._entries.get(uuid)
        if isinstance(old, PState):
            del self._ranked[bisect.bisect_left(self._ranked, (old.shuffle, uuid))]
        self._nested.discard(uuid)
        self._sharing.discard(uuid)

    def relist(self) -> None:
        """Read the whole catalogue table (one partition per bucket)."""
        started = time.monotonic()
        queries = [(_LIST, (self.store, b)) for b in range(BUCKETS)]
        for rows in self.cql.reads(queries, "listing the catalogue"):
            for row in rows:
                uuid, text = str(row["uuid"]), str(row["state"])
                self.apply(uuid, state_from_json(uuid, text), version_of(text))
        self._listed = started
        self.relists += 1

    def poll(self, older_than: float = 0.0) -> None:
        """Read the feed if the last read is older than ``older_than`` seconds."""
        if time.monotonic() - self._polled < older_than:
            return
        with self._poll_lock:
            if time.monotonic() - self._polled < older_than:
                return
            started, now = time.monotonic(), time.time_ns() // 1000
            since = max(self._cursor - int(OVERLAP * 1e6), now - int(RELIST * 1e6))
            slots = range(since // SLOT_US, now // SLOT_US + 1)
            found = self.cql.reads([(_FEED, (self.store, s, since)) for s in slots], "the feed")
            for rows in found:
                for row in rows:
                    uuid, text = str(row["uuid"]), str(row["state"])
                    self.apply(uuid, state_from_json(uuid, text), version_of(text))
            self._cursor, self._polled = now, started

    def due_relist(self) -> bool:
        return time.monotonic() - self._listed > RELIST

    # -- queries --------------------------------------------------------------------------

    def get(self, uuid: str) -> PState | None:
        with self._lock:
            found = self._entries.get(uuid)
            return found if isinstance(found, PState) else None

    def shape(self) -> StoreShape:
        with self._lock:
            return StoreShape(bool(self._nested), bool(self._sharing))

    def uuids(self) -> list[str]:
        """Every provider the catalogue holds as existing."""
        with self._lock:
            return [u for u, e in self._entries.items() if isinstance(e, PState)]

    def frozen(self) -> list[PState]:
        with self._lock:
            return [e for e in self._entries.values() if isinstance(e, PState) and e.frozen]

    def states(self, uuids: Iterable[str]) -> list[PState]:
        with self._lock:
            found = (self._entries.get(u) for u in uuids)
            return [e for e in found if isinstance(e, PState)]

    def candidates(
        self, query: ProviderQuery, tree_root: str | None, enough: int | None = None
    ) -> list[PState]:
        """Providers that fit, in the order to try them: creation order without a limit,
        else the shuffled order from the seed's start, stopping after ``enough``."""
        with self._lock:
            if query.limit is None:
                fits = [e for e in self._live() if query.matches(e.state, tree_root)]
                return sorted(fits, key=lambda e: (e.created, e.uuid))
            ranked, out = self._ranked, []
            start = bisect.bisect_left(ranked, (seed_start(query.seed), ""))
            for i in range(len(ranked)):
                entry = self._entries[ranked[(start + i) % len(ranked)][1]]
                assert isinstance(entry, PState)
                if query.matches(entry.state, tree_root):
                    out.append(entry)
                    if enough is not None and len(out) >= enough:
                        break
            return out

    def _live(self) -> list[PState]:
        return [e for e in self._entries.values() if isinstance(e, PState)]


def _version(entry: PState | _Gone) -> int:
    return entry.version


def _mark(marked: set[str], uuid: str, on: bool) -> None:
    if on:
        marked.add(uuid)
    else:
        marked.discard(uuid)
