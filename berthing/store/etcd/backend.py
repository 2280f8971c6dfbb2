"""The etcd store: the store contract on a replicated etcd cluster.

Writes are optimistic transactions (``stm.py``): one etcd transaction per operation,
comparing every key the decision read. ``find_providers`` picks candidates from an
in-memory catalogue kept current by a watch (``catalogue.py``) and returns them as a
fresh snapshot read from etcd. Driver errors are translated in ``kv.py``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from typing import TypeVar
from urllib.parse import unquote

from berthing.model import (
    AllocationChange,
    ClaimResult,
    Consumer,
    ConsumerNotFound,
    InUse,
    Inventory,
    JSONDoc,
    NotFound,
    Provider,
    ProviderNotFound,
    ProviderQuery,
    ProviderState,
    ResourceClassNotFound,
    StoreCorrupt,
    StoreShape,
    TraitNotFound,
    TypeUsage,
    validate_record_name,
)
from berthing.store.base import Store
from berthing.store.capabilities import Capability
from berthing.store.etcd import claims, providers, queries, records
from berthing.store.etcd.advisory import AdvisoryCopy
from berthing.store.etcd.catalogue import Catalogue
from berthing.store.etcd.config import parse_url
from berthing.store.etcd.kv import KV, LeaseGone
from berthing.store.etcd.layout import LAYOUT_VERSION, Keys
from berthing.store.etcd.ops import Op
from berthing.store.etcd.stm import Attempt, Transactor
from berthing.store.resources import NewParent
from berthing.store.sampling import new_rank

__all__ = ["EtcdStore"]

T = TypeVar("T")


class EtcdStore(Store):
    def __init__(self, url: str, *, create: bool = True) -> None:
        self.capabilities = frozenset(
            {
                Capability.SHARED,
                Capability.REPLICATED,
                Capability.NATIVE_WATCH,
                Capability.NATIVE_TTL,
            }
        )
        config = parse_url(url)
        self.url = url
        self._keys = Keys(config.prefix)
        self._kv = KV(config.endpoints, config.timeout)
        self._tx = Transactor(self._kv, self._committed)
        self._advisory: dict[str, AdvisoryCopy] = {}
        self._advisory_lock = threading.Lock()
        self._catalogue = Catalogue(self._kv, self._keys)
        self._create, self._prefix = create, config.prefix
        try:
            self._run("opening the store", self._check_layout)
            self._catalogue.start()
        except BaseException:
            self._kv.close()
            raise

    def close(self) -> None:
        self._catalogue.stop()
        for copy in self._advisory.values():
            copy.stop()
        self._kv.close()

    # -- plumbing -------------------------------------------------------------------------

    def _run(self, what: str, body: Callable[[Attempt], T]) -> T:
        return self._tx.run(what, body).value

    def _committed(self, writes: Iterable[Op], revision: int) -> None:
        """Read your own writes: the catalogue (and the advisory copies) apply them
        now, not when the watch brings them back (which they then ignore)."""
        writes = list(writes)
        self._catalogue.apply_own(writes, revision)
        for copy in self._advisory.values():
            copy.apply_own(writes, revision)

    def _get_advisory_docs(self, kind: str, keys: list[str]) -> dict[str, tuple[JSONDoc, int]]:
        with self._advisory_lock:
            copy = self._advisory.get(kind)
            if copy is None:
                copy = self._advisory[kind] = AdvisoryCopy(self._kv, self._keys, kind)
                copy.start()
        return copy.get(keys)

    def _check_layout(self, a: Attempt) -> None:
        doc = a.doc(self._keys.schema)
        if doc is None and not self._create:
            raise NotFound(
                f"No berthing store under the prefix /{self._prefix} on this etcd cluster.",
                hint="Check the prefix in the URL (etcd://host:port,.../PREFIX): "
                "berthing demo writes to PREFIX-<mode>-<time> and prints it.",
            )
        if doc is None:
            a.put(self._keys.schema, {"layout": LAYOUT_VERSION, "written_by": "berthing"})
        elif doc.get("layout") != LAYOUT_VERSION:
            raise StoreCorrupt(
                f"{self._keys.schema.decode()} says layout {doc.get('layout')!r}; this "
                f"berthing reads layout {LAYOUT_VERSION}.",
                hint="Use the berthing version that wrote this prefix, or another prefix.",
            )

    # -- resource classes and traits ----------------------------------------------------

    def _name_key(self, kind: str, name: str) -> bytes:
        return self._keys.resource_class(name) if kind == "class" else self._keys.trait(name)

    def _ensure_name(self, kind: str, name: str) -> bool:
        key = self._name_key(kind, name)
        return self._run("ensure_name", lambda a: providers.ensure_name(a, key))

    def _custom_names(self, kind: str) -> list[str]:
        start = f"{self._keys.cat}{'classes' if kind == 'class' else 'traits'}/".encode()
        kvs = self._run("listing names", lambda a: a.scan(start))
        return [unquote(kv.key[len(start) :].decode()) for kv in kvs]

    def _delete_name(self, kind: str, name: str) -> None:
        k = self._keys
        missing: Exception
        if kind == "class":
            users, missing = k.class_users(name), ResourceClassNotFound(name)
        else:
            users, missing = k.trait_users(name), TraitNotFound(name)
        in_use = InUse.name(kind, name)
        key = self._name_key(kind, name)
        self._run("delete_name", lambda a: providers.delete_name(a, key, users, missing, in_use))

    # -- providers ---------------------------------------------------------------------

    def _create_provider(self, name: str, uuid: str, parent_uuid: str | None) -> Provider:
        shuffle = new_rank()
        return self._run(
            "create_provider",
            lambda a: providers.create_provider(a, self._keys, name, uuid, parent_uuid, shuffle),
        )

    def get_provider_state(self, uuid: str) -> ProviderState:
        state = self._run("get_provider_state", lambda a: queries.states(a, self._keys, [uuid]))
        if not state:
            raise ProviderNotFound(uuid)
        return state[0]

    def delete_provider(self, uuid: str) -> None:
        self._run("delete_provider", lambda a: providers.delete_provider(a, self._keys, uuid))

    def _update_provider(self, uuid: str, name: str | None, parent: NewParent | None) -> Provider:
        return self._run(
            "update_provider",
            lambda a: providers.update_provider(a, self._keys, uuid, name, parent),
        )

    def _set_inventories(
        self, uuid: str, generation: int, inventories: dict[str, Inventory], below_use: bool
    ) -> Provider:
        return self._run(
            "set_inventories",
            lambda a: providers.set_inventories(
                a, self._keys, uuid, generation, inventories, below_use
            ),
        )

    def _set_traits(self, uuid: str, generation: int, traits: list[str]) -> Provider:
        return self._run(
            "set_traits", lambda a: providers.set_traits(a, self._keys, uuid, generation, traits)
        )

    def _set_aggregates(
        self, uuid: str, generation: int, aggregates: list[str], bump: bool
    ) -> Provider:
        return self._run(
            "set_aggregates",
            lambda a: providers.set_aggregates(a, self._keys, uuid, generation, aggregates, bump),
        )

    def _rename_class(self, old: str, new: str) -> None:
        self._run("rename_class", lambda a: providers.rename_class(a, self._keys, old, new))

    def shape(self) -> StoreShape:
        return self._catalogue.shape()

    def find_providers(self, query: ProviderQuery) -> list[ProviderState]:
        return self._run(
            "find_providers", lambda a: queries.find(a, self._keys, self._catalogue, query)
        )

    # -- consumers, allocations and usage ---------------------------------------------

    def _commit(self, change: AllocationChange) -> ClaimResult:
        # The catalogue knows the providers' keys as of its last watch event (or this
        # store's own last write): deciding on them saves the read, and the commit's
        # compares catch any that moved. A new consumer is the common case: guessed.
        k = self._keys
        seed = self._catalogue.snapshot(claims.catalogue_keys(k, change))
        seed.update({k.consumer(ca.consumer.uuid): None for ca in change.consumers})
        return self._tx.run("commit", lambda a: claims.commit(a, k, change), seed).value

    def release(self, consumer_uuid: str, generation: int | None = None) -> None:
        self._run("release", lambda a: claims.release(a, self._keys, consumer_uuid, generation))

    def get_allocations(self, consumer_uuid: str) -> tuple[Consumer, dict[str, dict[str, int]]]:
        doc = self._run("get_allocations", lambda a: a.doc(self._keys.consumer(consumer_uuid)))
        if doc is None:
            raise ConsumerNotFound(consumer_uuid)
        allocations = {p: dict(per) for p, per in doc["allocations"].items()}
        return claims.consumer_from(consumer_uuid, doc), allocations

    def provider_allocations(self, uuid: str) -> dict[str, dict[str, int]]:
        return self._run(
            "provider_allocations", lambda a: queries.provider_allocations(a, self._keys, uuid)
        )

    def usages(self, project_id: str, user_id: str | None = None) -> list[TypeUsage]:
        start = self._keys.project_use(project_id, user_id)
        return queries.type_usages(self._run("usages", lambda a: a.scan(start)))

    # -- records -----------------------------------------------------------------------

    def _put_doc(
        self, kind: str, key: str, doc: JSONDoc, expected: int | None, ttl: float | None
    ) -> int:
        validate_record_name("kind", kind)
        seconds = None if ttl is None else records.lease_seconds(ttl)
        for _ in range(3):
            # A lease is granted before the transaction; if retries outlast it, etcd
            # refuses the put (LeaseGone) and a fresh lease is taken.
            lease = 0 if seconds is None else self._kv.grant(seconds)

            def body(a: Attempt, lease: int = lease) -> int | None:
                return records.put(a, self._keys, kind, key, doc, expected, lease)

            try:
                done = self._tx.run("put_record", body)
            except LeaseGone:
                continue
            return done.value or done.revision
        raise LeaseGone(f"Leases of {seconds}s kept expiring before record {kind}/{key} landed.")

    def _get_docs(self, kind: str, keys: list[str]) -> dict[str, tuple[JSONDoc, int]]:
        names = [self._keys.record(kind, key) for key in keys]
        kvs = self._run("get_records", lambda a: a.get(*names))
        return {
            key: records.to_doc(kv) for key, kv in zip(keys, kvs, strict=True) if kv is not None
        }

    def _list_docs(self, kind: str, prefix: str, after: int) -> list[tuple[str, JSONDoc, int]]:
        return records.listing(self._kv, self._keys, kind, prefix, after)[0]

    def _delete_doc(self, kind: str, key: str, expected: int | None) -> bool:
        return self._run(
            "delete_record", lambda a: records.delete(a, self._keys, kind, key, expected)
        )

    def _watch_docs(
        self, kind: str, prefix: str, after: int, timeout: float
    ) -> list[tuple[str, JSONDoc, int]]:
        deadline = time.monotonic() + timeout
        found, revision = records.listing(self._kv, self._keys, kind, prefix, after)
        left = deadline - time.monotonic()
        if found or left <= 0:
            return found
        start = max(revision, after) + 1
        self._kv.run(records.wait_for_put(self._kv, self._keys.records(kind, prefix), start, left))
        return self._list_docs(kind, prefix, after)
