"""The backends every contract test runs against.

Each entry opens a fresh, empty store. ``shared`` backends can be opened again by URL
from other processes, which the multi-process tests need.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from berthing.store import Store, open_store
from tests.cassandra_fixtures import KEYSPACE


@dataclass(frozen=True)
class Backend:
    name: str
    shared: bool
    #: (tmp_path, pytest request) -> context manager yielding a URL for a fresh store
    url: Callable[[Path, object], AbstractContextManager[str]]


@contextmanager
def _sqlite_memory(tmp_path: Path, request: object) -> Iterator[str]:
    yield "sqlite://"


@contextmanager
def _sqlite_file(tmp_path: Path, request: object) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'berthing.db'}"


@contextmanager
def _etcd(tmp_path: Path, request: object) -> Iterator[str]:
    """A fresh key prefix on the session's real 3-member etcd cluster (tests/conftest.py)."""
    assert isinstance(request, pytest.FixtureRequest)
    cluster = request.getfixturevalue("etcd_cluster")
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    yield cluster.url(prefix)
    cluster.delete_prefix(f"/{prefix}/")


@contextmanager
def _cassandra(tmp_path: Path, request: object) -> Iterator[str]:
    """A fresh store name in the test keyspace of the session's real 3-node Cassandra
    cluster (tests/cassandra_fixtures.py): no schema change per test, so it is cheap."""
    assert isinstance(request, pytest.FixtureRequest)
    cluster = request.getfixturevalue("cassandra_cluster")
    yield f"{cluster.url(KEYSPACE)}/t{uuid.uuid4().hex[:16]}"


BACKENDS: list[Backend] = [
    Backend("sqlite-memory", shared=False, url=_sqlite_memory),
    Backend("sqlite-file", shared=True, url=_sqlite_file),
    Backend("etcd", shared=True, url=_etcd),
    Backend("cassandra", shared=True, url=_cassandra),
]
#: The backends several OS processes can open at once by URL.
SHARED = [b for b in BACKENDS if b.shared]


@contextmanager
def fresh_store(backend: Backend, tmp_path: Path, request: object) -> Iterator[Store]:
    with backend.url(tmp_path, request) as url:
        store = open_store(url)
        try:
            yield store
        finally:
            store.close()
