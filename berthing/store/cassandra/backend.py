"""The Cassandra store: the store contracts on a replicated Apache Cassandra cluster.

Every write is a lightweight transaction on one partition (``partition.py``,
``consumers.py``, ``records.py``); a claim on one provider is one LWT on its
partition, a change of several providers goes through the freeze-and-commit protocol
of ``claims.py``. ``find_providers`` and ``shape`` answer from an in-memory catalogue
(``catalogue.py``). Driver errors are translated in ``session.py``. See
docs/cassandra.md for the schema, the protocols and their failure behaviour.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from berthing.model import (
    AllocationChange,
    BerthingError,
    ClaimResult,
    Consumer,
    InUse,
    Inventory,
    JSONDoc,
    Provider,
    ProviderNotFound,
    ProviderQuery,
    ProviderState,
    StoreShape,
    TypeUsage,
    is_custom,
)
from berthing.store.base import Store
from berthing.store.capabilities import Capability
from berthing.store.cassandra.catalogue import FRESH, SLOT_US, Catalogue
from berthing.store.cassandra.claims import Claims, new_op
from berthing.store.cassandra.config import parse_url
from berthing.store.cassandra.consumers import STALE, Consumers
from berthing.store.cassandra.layout import PState, bucket, deleted_json, now_us
from berthing.store.cassandra.names import Names, ProviderNames, missing
from berthing.store.cassandra.partition import Partitions
from berthing.store.cassandra.providers import Providers
from berthing.store.cassandra.records import Records
from berthing.store.cassandra.registers import Registers
from berthing.store.cassandra.schema import check_layout, ensure_schema, require_store
from berthing.store.cassandra.session import Cql, Query
from berthing.store.resources import NewParent

__all__ = ["CassandraStore"]

log = logging.getLogger(__name__)

#: Seconds between the background chores (feed, sweep of stalled changes, relist).
TEND_EVERY = 1.0
#: Catalogue publications in flight before a writer waits for the oldest.
MAX_IN_FLIGHT = 256

_CAT_PUT = (
    "UPDATE catalogue USING TIMESTAMP ? SET state = ? WHERE store = ? AND bucket = ? AND uuid = ?"
)
_CAT_DEL = "DELETE FROM catalogue USING TIMESTAMP ? WHERE store = ? AND bucket = ? AND uuid = ?"
_FEED_PUT = "INSERT INTO feed (store, slot, version, uuid, state) VALUES (?, ?, ?, ?, ?)"


class CassandraStore(Store):
    def __init__(self, url: str, *, create: bool = True) -> None:
        config = parse_url(url)
        self.url = url
        self.capabilities = frozenset(
            {Capability.SHARED, Capability.REPLICATED, Capability.NATIVE_TTL}
        )
        self._store = config.store
        self._cql = Cql(config)
        try:
            if create:
                ensure_schema(self._cql, config.keyspace, config.replication)
            else:
                require_store(self._cql, config.keyspace, config.store)
            check_layout(self._cql, config.store)
            self._wire(self._cql, config.store)
        except BaseException:
            self._cql.close()
            raise

    def _wire(self, cql: Cql, store: str) -> None:
        self._sent: list[tuple[list[Any], list[Query]]] = []
        self._sent_lock = threading.Lock()
        self._catalogue = Catalogue(cql, store)
        self._partitions = Partitions(cql, store, self._publish)
        registers = Registers(cql, store)
        self._consumers = Consumers(cql, store, self._partitions, registers)
        self._claims = Claims(self._partitions, self._consumers, registers, self._catalogue.get)
        self._names = Names(cql, store)
        self._known_names: set[tuple[str, str]] = set()
        pnames = ProviderNames(cql, store)
        self._providers = Providers(self._partitions, self._names, pnames, self._claims)
        self._records = Records(cql, store)
        self._catalogue.relist()
        self._catalogue.poll()
        self._stop = threading.Event()
        self._tender = threading.Thread(target=self._tend, name="berthing-cassandra", daemon=True)
        self._tender.start()

    def close(self) -> None:
        self._stop.set()
        if self._tender.is_alive():
            self._tender.join(10)
        try:
            self._flush()
        finally:
            self._cql.close()

    # -- publishing to the catalogue of every process ----------------------------------------

    def _publish(self, uuid: str, state: PState | None, version: int) -> None:
        """A write to ``uuid`` landed: take it into this catalogue, and send it to every
        other process's (the catalogue and feed tables), without waiting."""
        self._catalogue.apply(uuid, state, version)
        where = (self._store, bucket(uuid), uuid)
        text = deleted_json(version) if state is None else state.to_json()
        cat: Query = (
            (_CAT_DEL, (version, *where)) if state is None else (_CAT_PUT, (version, text, *where))
        )
        now = now_us()
        queries = [cat, (_FEED_PUT, (self._store, now // SLOT_US, now, uuid, text))]
        with self._sent_lock:
            self._sent.append((self._cql.send(queries)[0], queries))
            backlog = len(self._sent) > MAX_IN_FLIGHT
        if backlog:
            self._flush()

    def _flush(self) -> None:
        """Wait until every publication sent so far has landed."""
        with self._sent_lock:
            sent, self._sent = self._sent, []
        for futures, queries in sent:
            self._cql.finish((futures, queries), "publishing a provider")

    def _tend(self) -> None:
        """Background chores: publications, the feed, stalled changes, relists."""
        while not self._stop.wait(TEND_EVERY):
            if self._cql.closed:
                return  # the driver was shut down under us (interpreter exit)
            try:
                self._flush()
                self._catalogue.poll()
                if self._catalogue.due_relist():
                    self._catalogue.relist()
                self._sweep()
            except BerthingError as exc:
                log.warning("Cassandra store chores failed (retrying in %ss): %s", TEND_EVERY, exc)

    def _sweep(self) -> None:
        """Recover multi-provider changes left frozen by a writer that died."""
        for state in self._catalogue.frozen():
            if now_us() - state.frozen_at > STALE * 1e6:
                fresh = self._partitions.read(state.uuid)
                if fresh is not None and fresh.frozen == state.frozen:
                    log.warning(
                        "recovering change %s left on provider %s", state.frozen, state.uuid
                    )
                    self._claims.recover(fresh)

    def _structural(self, call: Callable[[], Provider]) -> Provider:
        """A write other processes must see when it returns (not a claim's usage)."""
        found = call()
        self._flush()
        return found

    # -- resource classes and traits ----------------------------------------------------

    def _ensure_name(self, kind: str, name: str) -> bool:
        created = self._names.ensure(kind, name, new_op())
        self._known_names.add((kind, name))
        return created

    def _custom_names(self, kind: str) -> list[str]:
        return self._names.custom(kind)

    def _delete_name(self, kind: str, name: str) -> None:
        error = InUse.name(kind, name)
        self._names.delete(kind, name, lambda uuid: self._uses(uuid, kind, name), error)
        self._known_names.discard((kind, name))

    def _uses(self, uuid: str, kind: str, name: str) -> bool:
        state = self._partitions.read(uuid)
        if state is None:
            return False
        return name in (state.inventories if kind == "class" else state.traits)

    def _rename_class(self, old: str, new: str) -> None:
        self._names.rename(old, new, new_op(), lambda uuid: self._uses(uuid, "class", old))
        self._known_names.discard(("class", old))

    def _check_names(self, query: ProviderQuery) -> None:
        """Unknown custom classes or traits raise, as on every backend."""
        wanted = [("class", rc) for rc in query.resources if is_custom(rc)]
        wanted += [("trait", t) for t in query.trait_names if is_custom(t)]
        for kind, name in sorted(wanted):
            if (kind, name) not in self._known_names:
                if not self._names.exists(kind, name):
                    raise missing(kind, name)
                self._known_names.add((kind, name))

    # -- providers ---------------------------------------------------------------------

    def _create_provider(self, name: str, uuid: str, parent_uuid: str | None) -> Provider:
        return self._structural(lambda: self._providers.create(name, uuid, parent_uuid))

    def get_provider_state(self, uuid: str) -> ProviderState:
        state = self._partitions.read(uuid)
        if state is None:
            raise ProviderNotFound(uuid)
        self._catalogue.apply(uuid, state, state.version)
        return state.state

    def delete_provider(self, uuid: str) -> None:
        self._providers.delete(uuid)
        self._flush()

    def _update_provider(self, uuid: str, name: str | None, parent: NewParent | None) -> Provider:
        return self._structural(lambda: self._providers.update(uuid, name, parent))

    def _set_inventories(
        self, uuid: str, generation: int, inventories: dict[str, Inventory], below_use: bool
    ) -> Provider:
        return self._structural(
            lambda: self._providers.set_inventories(uuid, generation, inventories, below_use)
        )

    def _set_traits(self, uuid: str, generation: int, traits: list[str]) -> Provider:
        return self._structural(lambda: self._providers.set_traits(uuid, generation, traits))

    def _set_aggregates(
        self, uuid: str, generation: int, aggregates: list[str], bump: bool
    ) -> Provider:
        return self._structural(
            lambda: self._providers.set_aggregates(uuid, generation, aggregates, bump)
        )

    def shape(self) -> StoreShape:
        self._catalogue.poll(FRESH)
        return self._catalogue.shape()

    def find_providers(self, query: ProviderQuery) -> list[ProviderState]:
        self._check_names(query)
        self._catalogue.poll(FRESH)
        live = self._read_all() if query.fresh else None
        root = None
        if query.in_tree is not None:
            found = self._catalogue.get(query.in_tree) or self._partitions.read(query.in_tree)
            if found is None:
                raise ProviderNotFound(query.in_tree)
            root = found.root
        states = self._catalogue.candidates(query, root, query.limit)
        return [s.state for s in states if live is None or s.uuid in live]

    def _read_all(self) -> set[str]:
        """For ``fresh`` queries (audits): every provider read from its partition into
        the catalogue; the uuids of those that exist. The catalogue alone can lag for
        good: a writer that dies between its LWT and the publication of its result
        (SIGKILL, a lost majority outlasting the retries) leaves the catalogue table and
        the feed with the state before it, until the provider is written again."""
        self._catalogue.relist()  # providers this process has not heard of
        states = self._partitions.read_many(self._catalogue.uuids())
        for uuid, state in states.items():
            if state is not None:
                self._catalogue.apply(uuid, state, state.version)
        return {u for u, state in states.items() if state is not None}

    # -- consumers, allocations and usage ---------------------------------------------

    def _commit(self, change: AllocationChange) -> ClaimResult:
        return self._claims.commit(change)

    def release(self, consumer_uuid: str, generation: int | None = None) -> None:
        self._claims.release(consumer_uuid, generation)

    def get_allocations(self, consumer_uuid: str) -> tuple[Consumer, dict[str, dict[str, int]]]:
        return self._claims.allocations(consumer_uuid)

    def provider_allocations(self, uuid: str) -> dict[str, dict[str, int]]:
        state, allocations = self._partitions.state_and_allocations(uuid)
        if state is None:
            raise ProviderNotFound(uuid)
        return allocations

    def usages(self, project_id: str, user_id: str | None = None) -> list[TypeUsage]:
        count: dict[str | None, int] = {}
        amounts: dict[str | None, dict[str, int]] = {}
        for uuid in self._consumers.of_project(project_id, user_id):
            held = self._consumers.view(uuid, wait=False).held
            if held is None or held.consumer.project_id != project_id:
                continue
            if user_id is not None and held.consumer.user_id != user_id:
                continue
            ctype = held.consumer.consumer_type
            count[ctype] = count.get(ctype, 0) + 1
            per = amounts.setdefault(ctype, {})
            for allocs in held.allocations.values():
                for rc, n in allocs.items():
                    per[rc] = per.get(rc, 0) + n
        return [TypeUsage(t, count[t], amounts[t]) for t in sorted(count, key=str)]

    # -- records -----------------------------------------------------------------------

    def _put_doc(
        self, kind: str, key: str, doc: JSONDoc, expected: int | None, ttl: float | None
    ) -> int:
        return self._records.put(kind, key, doc, expected, ttl, new_op())

    def _get_docs(self, kind: str, keys: list[str]) -> dict[str, tuple[JSONDoc, int]]:
        return self._records.get(kind, keys)

    def _list_docs(self, kind: str, prefix: str, after: int) -> list[tuple[str, JSONDoc, int]]:
        return self._records.listing(kind, prefix, after)

    def _delete_doc(self, kind: str, key: str, expected: int | None) -> bool:
        return self._records.delete(kind, key, expected)
