"""A real 3-node Cassandra cluster for the tests that need one (tests/conftest.py imports this).

Started once per test session, on demand: only the tests that ask for
``cassandra_cluster`` pay its start-up (about a minute on two cores). Its CQL port is
``BERTHING_TEST_CASSANDRA_PORT`` (default 19042), away from a dev cluster's 9042.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from berthing.devtools.cassandra_cluster import CassandraCluster

__all__ = ["cassandra_cluster"]

TEST_PORT = int(os.environ.get("BERTHING_TEST_CASSANDRA_PORT", "19042"))


@pytest.fixture(scope="session")
def cassandra_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CassandraCluster]:
    """One real 3-node Cassandra cluster on 127.0.0.1-3 for the whole run."""
    with CassandraCluster(tmp_path_factory.mktemp("cassandra"), port=TEST_PORT) as cluster:
        yield cluster
