"""The embedded default store: one SQLite file (or memory), shared by processes.

Each method is one transaction (``connection.Database``); the SQL lives in
``providers``, ``claims`` and ``records``.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

from berthing.model import (
    AllocationChange,
    ClaimResult,
    Consumer,
    Inventory,
    JSONDoc,
    Provider,
    ProviderQuery,
    ProviderState,
    StoreShape,
    TypeUsage,
)
from berthing.store.base import Store
from berthing.store.capabilities import Capability
from berthing.store.resources import NewParent
from berthing.store.sqlite import claims, providers, records
from berthing.store.sqlite.connection import MEMORY, Database
from berthing.store.sqlite.fit import ClassSizes

__all__ = ["SqliteStore"]


class SqliteStore(Store):
    def __init__(self, path: str = MEMORY) -> None:
        self.url = "sqlite://" if path == MEMORY else f"sqlite:///{path}"
        # Nothing but this object can open an in-memory database.
        self.capabilities = frozenset() if path == MEMORY else frozenset({Capability.SHARED})
        self._db = Database(path)
        self._class_sizes = ClassSizes()

    def close(self) -> None:
        self._db.close()

    def bulk(self) -> AbstractContextManager[None]:
        """One outer transaction (one commit) for all writes inside; each still rolls
        back alone on failure. Holds the write lock: other processes wait meanwhile."""
        return self._db.bulk()

    # -- names ---------------------------------------------------------------------

    def _ensure_name(self, kind: str, name: str) -> bool:
        table, _ = providers.NAME_TABLES[kind]
        with self._db.write() as db:
            cur = db.execute(f"INSERT OR IGNORE INTO {table}(name) VALUES (?)", (name,))
            return cur.rowcount == 1

    def _custom_names(self, kind: str) -> list[str]:
        table, _ = providers.NAME_TABLES[kind]
        with self._db.read() as db:
            return [r[0] for r in db.execute(f"SELECT name FROM {table} WHERE name LIKE 'CUSTOM%'")]

    def _delete_name(self, kind: str, name: str) -> None:
        with self._db.write() as db:
            providers.delete_name(db, kind, name)

    # -- providers -----------------------------------------------------------------

    def _create_provider(self, name: str, uuid: str, parent_uuid: str | None) -> Provider:
        with self._db.write() as db:
            return providers.create(db, name, uuid, parent_uuid)

    def get_provider_state(self, uuid: str) -> ProviderState:
        with self._db.read() as db:
            return providers.load_states(db, [providers.provider_id(db, uuid)])[0]

    def delete_provider(self, uuid: str) -> None:
        with self._db.write() as db:
            providers.delete(db, uuid)

    def _update_provider(self, uuid: str, name: str | None, parent: NewParent | None) -> Provider:
        with self._db.write() as db:
            return providers.update(db, uuid, name, parent)

    def _set_inventories(
        self, uuid: str, generation: int, inventories: dict[str, Inventory], below_use: bool
    ) -> Provider:
        with self._db.write() as db:
            return providers.set_inventories(db, uuid, generation, inventories, below_use)

    def _set_traits(self, uuid: str, generation: int, traits: list[str]) -> Provider:
        with self._db.write() as db:
            return providers.set_traits(db, uuid, generation, traits)

    def _set_aggregates(
        self, uuid: str, generation: int, aggregates: list[str], bump: bool
    ) -> Provider:
        with self._db.write() as db:
            return providers.set_aggregates(db, uuid, generation, aggregates, bump)

    def _rename_class(self, old: str, new: str) -> None:
        with self._db.write() as db:
            providers.rename_class(db, old, new)

    def shape(self) -> StoreShape:
        with self._db.read() as db:
            return providers.shape(db)

    def find_providers(self, query: ProviderQuery) -> list[ProviderState]:
        with self._db.read() as db:
            return providers.find(db, query, self._class_sizes)

    # -- consumers -----------------------------------------------------------------

    def _commit(self, change: AllocationChange) -> ClaimResult:
        with self._db.write() as db:
            return claims.commit(db, change)

    def release(self, consumer_uuid: str, generation: int | None = None) -> None:
        with self._db.write() as db:
            claims.release(db, consumer_uuid, generation)

    def get_allocations(self, consumer_uuid: str) -> tuple[Consumer, dict[str, dict[str, int]]]:
        with self._db.read() as db:
            return claims.consumer_allocations(db, consumer_uuid)

    def provider_allocations(self, uuid: str) -> dict[str, dict[str, int]]:
        with self._db.read() as db:
            return claims.provider_allocations(db, uuid)

    def usages(self, project_id: str, user_id: str | None = None) -> list[TypeUsage]:
        with self._db.read() as db:
            return claims.usages(db, project_id, user_id)

    # -- records ---------------------------------------------------------------------

    def _put_doc(
        self, kind: str, key: str, doc: JSONDoc, expected: int | None, ttl: float | None
    ) -> int:
        with self._db.write() as db:
            return records.put_doc(db, kind, key, doc, expected, ttl)

    def _get_docs(self, kind: str, keys: list[str]) -> dict[str, tuple[JSONDoc, int]]:
        with self._db.read() as db:
            return records.get_docs(db, kind, keys)

    def _list_docs(self, kind: str, prefix: str, after: int) -> list[tuple[str, JSONDoc, int]]:
        with self._db.read() as db:
            return records.list_docs(db, kind, prefix, after)

    def _delete_doc(self, kind: str, key: str, expected: int | None) -> bool:
        with self._db.write() as db:
            return records.delete_doc(db, kind, key, expected)
