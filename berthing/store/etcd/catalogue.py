"""The in-memory catalogue ``find_providers`` searches: an informer over ``cat/``.

etcd has no query language, so each store keeps every provider, inventory, usage,
custom class and trait in memory, kept current the way Kubernetes informers do it:
list everything at one revision R, then watch from R+1; when the watch reports that
its history was compacted, list again. A broken stream resumes on another member
from the last revision applied.

The catalogue only *chooses candidates*. ``find_providers`` re-reads the chosen
providers from etcd as one snapshot and re-checks them, and ``claim`` decides on its
own transaction, so a stale catalogue costs at most a missed candidate or a claim
conflict and a retry, never a wrong answer. Staleness is bounded: a store waits for
its own writes to come back through the watch before it answers (read your writes),
and another process's write arrives one watch delivery later (milliseconds on a
healthy cluster; after a member failure, once the watch has moved to another member).
"""

from __future__ import annotations

import asyncio
import bisect
import threading
from collections.abc import Iterable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from berthing.model import (
    SHARING_TRAIT,
    BerthingError,
    Inventory,
    Provider,
    ProviderQuery,
    ProviderState,
    StoreShape,
    StoreUnavailable,
)
from berthing.store.etcd.kv import KV, Compacted, WatchEvent
from berthing.store.etcd.layout import (
    Keys,
    decode,
    inventories_from,
    provider_from,
    usages_from,
)
from berthing.store.etcd.ops import KeyValue, Op, Put, Range, prefix_end
from berthing.store.sampling import seed_start

__all__ = ["Catalogue"]

#: Keys per page when listing; etcd answers a page in one consistent read.
PAGE = 1000


@dataclass(frozen=True, slots=True)
class _Entry:
    provider: Provider
    created: int  # create_revision of the provider key: creation order
    shuffle: int  # fixed random rank, for seeded queries


class Catalogue:
    """Providers and names of one store prefix, current to ``applied``."""

    def __init__(self, kv: KV, keys: Keys) -> None:
        self._kv, self._keys = kv, keys
        self._prefix = keys.cat.encode()
        self._cond = threading.Condition()
        self._providers: dict[str, _Entry] = {}
        #: (shuffle, uuid) of every provider, kept sorted: a seeded query walks it from
        #: its start and stops once it has enough, instead of sorting the cloud per query.
        self._ranked: list[tuple[int, str]] = []
        self._inventories: dict[str, dict[str, Inventory]] = {}
        self._usages: dict[str, dict[str, int]] = {}
        self._classes: set[str] = set()
        self._traits: set[str] = set()
        # Counted as they change, so that shape() costs nothing per query.
        self._nested: set[str] = set()
        self._sharing: set[str] = set()
        #: The newest key-value seen per key: seeds a claim's read set (``snapshot``).
        self._raw: dict[bytes, KeyValue] = {}
        #: Revision at which a key was last deleted: an older put arriving late from the
        #: watch (after this store applied its own delete) must not bring it back.
        self._deleted: dict[bytes, int] = {}
        self.applied = 0
        #: Full lists done: one at start, then one per compaction or stuck watch.
        self.relists = 0
        self._task: Future[None] | None = None

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        """List synchronously (so an unreachable cluster fails the open), then watch."""
        self._kv.run(self._relist())
        self.resume()

    def stop(self) -> None:
        """Stop watching; the catalogue keeps what it has (and goes stale)."""
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def resume(self) -> None:
        """Watch again from the last revision applied (relisting if it was compacted)."""
        self.stop()
        self._task = self._kv.spawn(self._follow())

    # -- queries ------------------------------------------------------------------------

    def has_class(self, name: str) -> bool:
        with self._cond:
            return name in self._classes

    def has_trait(self, name: str) -> bool:
        with self._cond:
            return name in self._traits

    def shape(self) -> StoreShape:
        with self._cond:
            return StoreShape(bool(self._nested), bool(self._sharing))

    def candidates(
        self, query: ProviderQuery, tree_root: str | None, enough: int | None = None
    ) -> list[str]:
        """Uuids that fit according to the catalogue, in the order to try them:
        creation order without a limit, else the shuffled order from a seeded start,
        stopping after ``enough`` (None: all)."""
        with self._cond:
            if query.limit is None:
                fits = [e for u, e in self._providers.items() if self._fits(query, u, e, tree_root)]
                return [e.provider.uuid for e in sorted(fits, key=lambda e: e.created)]
            ranked, out = self._ranked, []
            start = bisect.bisect_left(ranked, (seed_start(query.seed), ""))
            for i in range(len(ranked)):
                uuid = ranked[(start + i) % len(ranked)][1]
                if self._fits(query, uuid, self._providers[uuid], tree_root):
                    out.append(uuid)
                    if enough is not None and len(out) >= enough:
                        break
            return out

    def _fits(self, query: ProviderQuery, uuid: str, e: _Entry, tree_root: str | None) -> bool:
        invs, used = self._inventories.get(uuid, {}), self._usages.get(uuid, {})
        return query.matches(ProviderState(e.provider, invs, used), tree_root)

    # -- list and watch -----------------------------------------------------------------

    async def _relist(self) -> None:
        prefix = self._keys.cat.encode()
        end = prefix_end(prefix)
        first = await self._kv.atxn((), [Range(prefix, end, limit=PAGE)], (), "a catalogue list")
        revision, page = first.revision, first.ranges[0]
        kvs = list(page)
        while len(page) == PAGE:
            after = page[-1].key + b"\0"
            nxt = await self._kv.atxn(
                (), [Range(after, end, revision=revision, limit=PAGE)], (), "a catalogue list"
            )
            page = nxt.ranges[0]
            kvs.extend(page)
        with self._cond:
            if revision < self.applied:
                return  # a newer state arrived meanwhile
            self._providers.clear()
            self._ranked.clear()
            self._inventories.clear()
            self._usages.clear()
            self._classes.clear()
            self._traits.clear()
            self._nested.clear()
            self._sharing.clear()
            self._raw.clear()
            self._deleted.clear()
            for kv in kvs:
                self._apply(WatchEvent("put", kv))
            self.applied = revision
            self.relists += 1
            self._cond.notify_all()

    async def _follow(self) -> None:
        prefix = self._keys.cat.encode()
        while True:
            try:
                await self._kv.watch(prefix, prefix_end(prefix), self.applied + 1, self._deliver)
            except Compacted:
                await self._relist_until_done()

    async def _relist_until_done(self) -> None:
        while True:
            try:
                await self._relist()
                return
            except StoreUnavailable:
                await asyncio.sleep(0.5)  # the cluster is down: the next list may work

    def _deliver(self, progress: int, events: list[WatchEvent]) -> None:
        with self._cond:
            for event in events:
                if event.kv.mod_revision > self.applied:
                    self._apply(event)
            self.applied = max(self.applied, progress)
            self._cond.notify_all()

    def apply_own(self, writes: Iterable[Op], revision: int) -> None:
        """This store's own committed writes, applied at once: a store reads its own
        writes without waiting for the watch (which delivers them again, ignored then)."""
        with self._cond:
            for op in writes:
                if not op.key.startswith(self._prefix):
                    continue
                old = self._raw.get(op.key)
                created = old.create_revision if old is not None else revision
                if isinstance(op, Put):
                    self._apply(WatchEvent("put", KeyValue(op.key, op.value, created, revision)))
                else:
                    self._apply(WatchEvent("delete", KeyValue(op.key, b"", created, revision)))

    def snapshot(self, keys: Iterable[bytes]) -> dict[bytes, KeyValue | None]:
        """The catalogue's key-values for ``keys`` (None: not seen). A claim decides on
        them and its transaction compares every one: a stale one fails the compare and
        the claim reads afresh, so they save a round trip without risking a decision."""
        with self._cond:
            return {k: self._raw.get(k) for k in keys if k.startswith(self._prefix)}

    def root_of(self, uuid: str) -> str | None:
        with self._cond:
            entry = self._providers.get(uuid)
            return None if entry is None else entry.provider.root_uuid

    def states(self, uuids: Iterable[str]) -> list[ProviderState]:
        """Providers as the catalogue knows them, in the order given."""
        with self._cond:
            return [
                ProviderState(e.provider, self._inventories.get(u, {}), self._usages_of(u))
                for u in uuids
                if (e := self._providers.get(u)) is not None
            ]

    def _usages_of(self, uuid: str) -> dict[str, int]:
        used = self._usages.get(uuid, {})
        return {rc: used.get(rc, 0) for rc in self._inventories.get(uuid, {})}

    def _apply(self, event: WatchEvent) -> None:
        key = event.kv.key
        current = self._raw.get(key)
        newest = max(current.mod_revision if current else 0, self._deleted.get(key, 0))
        if event.kv.mod_revision <= newest:
            return  # seen already (our own write, applied at commit)
        if event.kind == "put":
            self._raw[key] = event.kv
        else:
            self._raw.pop(key, None)
            self._deleted[key] = event.kv.mod_revision
        where = self._keys.cat_kind(event.kv.key)
        if where is None:
            return
        kind, ident = where
        try:
            self._apply_one(kind, ident, event)
        except (BerthingError, KeyError, TypeError, ValueError):
            # A document berthing did not write: leave it out of the candidates; reading
            # that provider directly reports it as StoreCorrupt, naming the key.
            self._forget(kind, ident)

    def _apply_one(self, kind: str, ident: str, event: WatchEvent) -> None:
        if event.kind == "delete":
            self._forget(kind, ident)
            return
        kv = event.kv
        doc: dict[str, Any] = decode(kv.key, kv.value)
        if kind == "providers":
            provider = provider_from(kv.key, ident, doc)
            entry = _Entry(provider, kv.create_revision, int(doc["shuffle"]))
            if ident not in self._providers:  # an update keeps its fixed rank
                bisect.insort(self._ranked, (entry.shuffle, ident))
            self._providers[ident] = entry
            _mark(self._nested, ident, provider.parent_uuid is not None)
            _mark(self._sharing, ident, SHARING_TRAIT in provider.traits)
        elif kind == "inventories":
            self._inventories[ident] = inventories_from(kv.key, doc)
        elif kind == "usages":
            self._usages[ident] = usages_from(kv.key, doc)
        elif kind == "classes":
            self._classes.add(ident)
        elif kind == "traits":
            self._traits.add(ident)

    def _forget(self, kind: str, ident: str) -> None:
        if kind == "providers":
            gone = self._providers.pop(ident, None)
            self._nested.discard(ident)
            self._sharing.discard(ident)
            if gone is not None:
                del self._ranked[bisect.bisect_left(self._ranked, (gone.shuffle, ident))]
        elif kind == "inventories":
            self._inventories.pop(ident, None)
        elif kind == "usages":
            self._usages.pop(ident, None)
        elif kind == "classes":
            self._classes.discard(ident)
        elif kind == "traits":
            self._traits.discard(ident)


def _mark(marked: set[str], ident: str, on: bool) -> None:
    if on:
        marked.add(ident)
    else:
        marked.discard(ident)
