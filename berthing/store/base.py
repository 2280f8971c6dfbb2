"""A store: the resource contract and the record contract, on one engine.

Each backend (``sqlite``, ``etcd``) implements both contracts on its engine, declares
its capabilities, and is opened by URL (``store.url.open_store``).
"""

from __future__ import annotations

import contextlib
from contextlib import AbstractContextManager

from berthing.store.capabilities import Capability
from berthing.store.records import RecordStore
from berthing.store.resources import ResourceStore

__all__ = ["Store"]


class Store(ResourceStore, RecordStore):
    """A replicated (or embedded) home for resources, claims and records."""

    #: A URL that opens this same store again, e.g. from a child process.
    url: str
    #: What this backend can do beyond the contracts (may depend on the URL).
    capabilities: frozenset[Capability] = frozenset()

    def bulk(self) -> AbstractContextManager[None]:
        """Group many writes for speed where the backend can; no atomicity promise.

        Registering a large cloud is many small writes, and a backend that pays a commit
        per write (SQLite's lock and WAL append) is far faster when they share one. Every
        write inside keeps its own contract: it happens whole or not at all, and one that
        fails does not undo the others. Writes that succeeded stay written even if the
        block raises, exactly as without ``bulk()``; but other clients may see them only
        when the block ends, and a backend may hold its write lock for the whole block,
        so keep it to setup work, not to a scheduler's hot path. Nesting is allowed.
        """
        return contextlib.nullcontext()

    def close(self) -> None:
        """Release connections. The store must not be used afterwards."""

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
