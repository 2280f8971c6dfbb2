"""The etcd store: the store contract on a replicated etcd cluster.

Writes are optimistic transactions (``stm.py``): one etcd transaction per operation,
comparing every key the decision read. ``find_providers`` picks candidates from an
in-memory catalogue kept current by a watch (``catalogue.py``) and returns them as a
fresh snapshot read from etcd. Driver errors are translated in ``kv.py``.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar
from urllib.parse import unquote

from berthing.model import (
    STANDARD_RESOURCE_CLASSES,
    STANDARD_TRAITS,
    ClaimResult,
    Consumer,
    ConsumerNotFound,
    InUse,
    InvalidInput,
    Inventory,
    Provider,
    ProviderNotFound,
    ProviderQuery,
    ProviderState,
    Record,
    ResourceClassNotFound,
    StoreCorrupt,
    TraitNotFound,
    is_custom,
    new_uuid,
    validate_record_name,
    validate_resource_class,
    validate_trait,
    validate_uuid,
)
from berthing.store.base import Store
from berthing.store.etcd import claims, providers, queries, records
from berthing.store.etcd.catalogue import Catalogue
from berthing.store.etcd.config import parse_url
from berthing.store.etcd.fit import SHUFFLE_SPAN
from berthing.store.etcd.kv import KV, LeaseGone
from berthing.store.etcd.layout import LAYOUT_VERSION, Keys, provider_from
from berthing.store.etcd.stm import Attempt, Transactor

__all__ = ["EtcdStore"]

T = TypeVar("T")


class EtcdStore(Store):
    capabilities = frozenset({"watch", "ttl", "replicated"})

    def __init__(self, url: str) -> None:
        config = parse_url(url)
        self.url = url
        self._keys = Keys(config.prefix)
        self._kv = KV(config.endpoints, config.timeout)
        self._written = 0  # revision of this store's last write to the catalogue
        self._written_lock = threading.Lock()
        self._tx = Transactor(self._kv, self._committed)
        self._catalogue = Catalogue(self._kv, self._keys)
        try:
            self._run("opening the store", self._check_layout)
            self._catalogue.start()
        except BaseException:
            self._kv.close()
            raise

    def close(self) -> None:
        self._catalogue.stop()
        self._kv.close()

    # -- plumbing -------------------------------------------------------------------------

    def _run(self, what: str, body: Callable[[Attempt], T]) -> T:
        return self._tx.run(what, body).value

    def _committed(self, written: Iterable[bytes], revision: int) -> None:
        cat = self._keys.cat.encode()
        if any(key.startswith(cat) for key in written):
            with self._written_lock:
                self._written = max(self._written, revision)

    def _check_layout(self, a: Attempt) -> None:
        doc = a.doc(self._keys.schema)
        if doc is None:
            a.put(self._keys.schema, {"layout": LAYOUT_VERSION, "written_by": "berthing"})
        elif doc.get("layout") != LAYOUT_VERSION:
            raise StoreCorrupt(
                f"{self._keys.schema.decode()} says layout {doc.get('layout')!r}; this "
                f"berthing reads layout {LAYOUT_VERSION}.",
                hint="Use the berthing version that wrote this prefix, or another prefix.",
            )

    # -- resource classes and traits ----------------------------------------------------

    def ensure_resource_class(self, name: str) -> bool:
        key = self._keys.resource_class(_custom(validate_resource_class(name)))
        return self._run("ensure_resource_class", lambda a: providers.ensure_name(a, key))

    def ensure_trait(self, name: str) -> bool:
        key = self._keys.trait(_custom(validate_trait(name)))
        return self._run("ensure_trait", lambda a: providers.ensure_name(a, key))

    def list_resource_classes(self) -> list[str]:
        return sorted({*STANDARD_RESOURCE_CLASSES, *self._custom_names("classes")})

    def list_traits(self) -> list[str]:
        return sorted({*STANDARD_TRAITS, *self._custom_names("traits")})

    def _custom_names(self, kind: str) -> list[str]:
        start = f"{self._keys.cat}{kind}/".encode()
        kvs = self._run("listing names", lambda a: a.scan(start))
        return [unquote(kv.key[len(start) :].decode()) for kv in kvs]

    def delete_resource_class(self, name: str) -> None:
        validate_resource_class(name)
        if not is_custom(name):
            raise InvalidInput(f"Standard resource class {name} cannot be deleted.")
        k = self._keys
        in_use = InUse(
            f"Resource class {name} is used by inventories.",
            hint="Remove those inventories first.",
        )
        self._run(
            "delete_resource_class",
            lambda a: providers.delete_name(
                a, k.resource_class(name), k.class_users(name), ResourceClassNotFound(name), in_use
            ),
        )

    def delete_trait(self, name: str) -> None:
        validate_trait(name)
        if not is_custom(name):
            raise InvalidInput(f"Standard trait {name} cannot be deleted.")
        k = self._keys
        in_use = InUse(f"Trait {name} is set on providers.", hint="Unset it first.")
        self._run(
            "delete_trait",
            lambda a: providers.delete_name(
                a, k.trait(name), k.trait_users(name), TraitNotFound(name), in_use
            ),
        )

    # -- providers ---------------------------------------------------------------------

    def create_provider(
        self, name: str, uuid: str | None = None, parent_uuid: str | None = None
    ) -> Provider:
        if not isinstance(name, str) or not name.strip() or len(name) > 200:
            raise InvalidInput(f"Provider name must be 1 to 200 characters, got {name!r}.")
        puuid = validate_uuid(uuid) if uuid is not None else new_uuid()
        parent = validate_uuid(parent_uuid, "parent uuid") if parent_uuid is not None else None
        shuffle = random.randrange(SHUFFLE_SPAN)
        return self._run(
            "create_provider",
            lambda a: providers.create_provider(a, self._keys, name, puuid, parent, shuffle),
        )

    def get_provider(self, uuid: str) -> Provider:
        key = self._keys.provider(uuid)
        doc = self._run("get_provider", lambda a: a.doc(key))
        if doc is None:
            raise ProviderNotFound(uuid)
        return provider_from(key, uuid, doc)

    def get_provider_state(self, uuid: str) -> ProviderState:
        state = self._run("get_provider_state", lambda a: queries.states(a, self._keys, [uuid]))
        if not state:
            raise ProviderNotFound(uuid)
        return state[0]

    def delete_provider(self, uuid: str) -> None:
        self._run("delete_provider", lambda a: providers.delete_provider(a, self._keys, uuid))

    def set_inventories(
        self, uuid: str, generation: int, inventories: Mapping[str, Inventory]
    ) -> Provider:
        for rc, inv in inventories.items():
            validate_resource_class(rc)
            if not isinstance(inv, Inventory):
                raise InvalidInput(f"Inventory for {rc} must be an Inventory, got {inv!r}.")
        invs = dict(inventories)
        return self._run(
            "set_inventories",
            lambda a: providers.set_inventories(a, self._keys, uuid, generation, invs),
        )

    def set_traits(self, uuid: str, generation: int, traits: Iterable[str]) -> Provider:
        names = sorted({validate_trait(t) for t in traits})
        return self._run(
            "set_traits", lambda a: providers.set_traits(a, self._keys, uuid, generation, names)
        )

    def set_aggregates(self, uuid: str, generation: int, aggregates: Iterable[str]) -> Provider:
        aggs = sorted({validate_uuid(x, "aggregate uuid") for x in aggregates})
        return self._run(
            "set_aggregates",
            lambda a: providers.set_aggregates(a, self._keys, uuid, generation, aggs),
        )

    def find_providers(self, query: ProviderQuery) -> list[ProviderState]:
        with self._written_lock:
            written = self._written
        self._catalogue.catch_up(written)  # read your own writes
        return self._run(
            "find_providers", lambda a: queries.find(a, self._keys, self._catalogue, query)
        )

    # -- consumers, allocations and usage ---------------------------------------------

    def _claim(
        self,
        consumer: Consumer,
        allocations: dict[str, dict[str, int]],
        provider_generations: dict[str, int],
    ) -> ClaimResult:
        return self._run(
            "claim",
            lambda a: claims.claim(a, self._keys, consumer, allocations, provider_generations),
        )

    def release(self, consumer_uuid: str, generation: int | None = None) -> None:
        self._run("release", lambda a: claims.release(a, self._keys, consumer_uuid, generation))

    def get_allocations(self, consumer_uuid: str) -> tuple[Consumer, dict[str, dict[str, int]]]:
        doc = self._run("get_allocations", lambda a: a.doc(self._keys.consumer(consumer_uuid)))
        if doc is None:
            raise ConsumerNotFound(consumer_uuid)
        consumer = Consumer(
            consumer_uuid, str(doc["project"]), str(doc["user"]), int(doc["generation"])
        )
        return consumer, {p: dict(per) for p, per in doc["allocations"].items()}

    def provider_allocations(self, uuid: str) -> dict[str, dict[str, int]]:
        return self._run(
            "provider_allocations", lambda a: queries.provider_allocations(a, self._keys, uuid)
        )

    def usages(self, project_id: str, user_id: str | None = None) -> dict[str, int]:
        start = self._keys.project_use(project_id, user_id)
        return queries.totals(self._run("usages", lambda a: a.scan(start)))

    # -- records -----------------------------------------------------------------------

    def put_record(
        self,
        kind: str,
        key: str,
        value: Mapping[str, Any],
        expected_revision: int | None = None,
        ttl: float | None = None,
    ) -> Record:
        validate_record_name("kind", kind)
        validate_record_name("key", key)
        doc = records.check_value(value)
        seconds = None if ttl is None else records.lease_seconds(ttl)
        for _ in range(3):
            # A lease is granted before the transaction; if retries outlast it, etcd
            # refuses the put (LeaseGone) and a fresh lease is taken.
            lease = 0 if seconds is None else self._kv.grant(seconds)

            def body(a: Attempt, lease: int = lease) -> int | None:
                return records.put(a, self._keys, kind, key, doc, expected_revision, lease)

            try:
                done = self._tx.run("put_record", body)
            except LeaseGone:
                continue
            return Record(kind, key, doc, done.value or done.revision)
        raise LeaseGone(f"Leases of {seconds}s kept expiring before record {kind}/{key} landed.")

    def get_record(self, kind: str, key: str) -> Record | None:
        (kv,) = self._run("get_record", lambda a: a.get(self._keys.record(kind, key)))
        return None if kv is None else records.to_record(self._keys, kind, kv)

    def list_records(self, kind: str, prefix: str = "", after_revision: int = 0) -> list[Record]:
        return records.listing(self._kv, self._keys, kind, prefix, after_revision)[0]

    def get_records(self, kind: str, keys: Iterable[str]) -> dict[str, Record]:
        wanted = list(dict.fromkeys(keys))
        names = [self._keys.record(kind, key) for key in wanted]
        kvs = self._run("get_records", lambda a: a.get(*names))
        return {
            key: records.to_record(self._keys, kind, kv)
            for key, kv in zip(wanted, kvs, strict=True)
            if kv is not None
        }

    def delete_record(self, kind: str, key: str, expected_revision: int | None = None) -> bool:
        return self._run(
            "delete_record",
            lambda a: records.delete(a, self._keys, kind, key, expected_revision),
        )

    def watch_records(
        self, kind: str, prefix: str, after_revision: int, timeout: float
    ) -> list[Record]:
        deadline = time.monotonic() + timeout
        found, revision = records.listing(self._kv, self._keys, kind, prefix, after_revision)
        left = deadline - time.monotonic()
        if found or left <= 0:
            return found
        start = max(revision, after_revision) + 1
        self._kv.run(records.wait_for_put(self._kv, self._keys.records(kind, prefix), start, left))
        return self.list_records(kind, prefix, after_revision)


def _custom(name: str) -> str:
    if not is_custom(name):
        raise InvalidInput(
            f"{name} is a standard name; only CUSTOM_* names can be created.",
            hint="Standard names exist already and can be used as they are.",
        )
    return name
