"""A real 3-node Cassandra cluster for the tests that need one (tests/conftest.py imports this).

Started once per test session, on demand: only the tests that ask for
``cassandra_cluster`` pay its start-up (under a minute on two quiet cores, about three
minutes on a saturated box). Its CQL port is
``BERTHING_TEST_CASSANDRA_PORT`` (default 19042), away from a dev cluster's 9042.

``BERTHING_TEST_CASSANDRA_URL=cassandra://h1,h2,h3:port`` runs the tests on a cluster
that is already running instead (the tests then create their keyspace there, and do
not stop it): for repeated runs while developing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from berthing.devtools.cassandra_cluster import CassandraCluster

__all__ = ["KEYSPACE", "Running", "cassandra_cluster"]

TEST_PORT = int(os.environ.get("BERTHING_TEST_CASSANDRA_PORT", "19042"))
#: The keyspace every Cassandra test store lives in (one store name per test).
KEYSPACE = "berthing_test"


@dataclass(frozen=True)
class Running:
    """A cluster started elsewhere (BERTHING_TEST_CASSANDRA_URL)."""

    base: str

    def url(self, keyspace: str = "") -> str:
        return f"{self.base.rstrip('/')}/{keyspace}" if keyspace else self.base


@pytest.fixture(scope="session")
def cassandra_cluster(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[CassandraCluster | Running]:
    """One real 3-node Cassandra cluster on 127.0.0.1-3 for the whole run."""
    running = os.environ.get("BERTHING_TEST_CASSANDRA_URL")
    if running:
        yield Running(running)
        return
    with CassandraCluster(tmp_path_factory.mktemp("cassandra"), port=TEST_PORT) as cluster:
        yield cluster
