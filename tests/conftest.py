from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from berthing.devtools.etcd_cluster import EtcdCluster
from berthing.store import Store
from tests.backends import BACKENDS, SHARED, fresh_store
from tests.cassandra_fixtures import cassandra_cluster  # noqa: F401  (a session fixture)


@pytest.fixture(scope="session")
def etcd_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdCluster]:
    """One real 3-member etcd cluster on 127.0.0.1 for the whole run; each etcd test
    gets its own key prefix on it (tests/backends.py)."""
    with EtcdCluster(tmp_path_factory.mktemp("etcd")) as cluster:
        yield cluster


@pytest.fixture(params=BACKENDS, ids=[b.name for b in BACKENDS])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A fresh empty store, once per backend: the contract suite runs against each."""
    with fresh_store(request.param, tmp_path, request) as s:
        yield s


@pytest.fixture(params=SHARED, ids=[b.name for b in SHARED])
def shared_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a fresh store that several OS processes can open at once."""
    with request.param.url(tmp_path, request) as url:
        yield url
