"""The Cassandra harness: three real nodes whose keyspaces replicate on every node and
whose lightweight transactions apply once, lose once, and go on when a node dies."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from berthing.devtools import cassandra_cluster as cc
from berthing.devtools.cassandra_cluster import CassandraCluster

KEYSPACE = "harness_test"
UPDATE = "UPDATE cas SET version = %s, owner = %s WHERE k = %s IF version = %s"


def test_tokens_are_evenly_spaced_like_ccm() -> None:
    assert [cc._token(i, 3) for i in range(3)] == [
        -9223372036854775808,
        -3074457345618258603,
        3074457345618258602,
    ]


def test_url_names_every_node_and_the_cql_port(tmp_path: Path) -> None:
    cluster = CassandraCluster(tmp_path, port=19142)
    assert cluster.url("ks") == "cassandra://127.0.0.1,127.0.0.2,127.0.0.3:19142/ks"
    assert [n.jmx_port for n in cluster.nodes] == [19144, 19145, 19146]


def test_a_fetched_home_is_not_fetched_again(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / cc.MARKER).write_text(cc.CASSANDRA_VERSION)
    assert cc.fetch(tmp_path) == lib  # no Maven run: it would fail on this empty pom-less home


def test_java17_is_java_17() -> None:
    assert cc._java_major(str(cc.java17())) == 17


@pytest.fixture(scope="module")
def session(cassandra_cluster: CassandraCluster) -> Iterator[Any]:
    cassandra_cluster.create_keyspace(KEYSPACE)
    with cassandra_cluster.session(KEYSPACE, timeout=30.0) as s:
        s.execute(
            "CREATE TABLE IF NOT EXISTS cas (k text PRIMARY KEY, version int, owner text)",
            timeout=cc.DDL_TIMEOUT,
        )
        yield s


def serial_read(session: Any, key: str) -> Any:
    from cassandra import ConsistencyLevel
    from cassandra.query import SimpleStatement

    query = SimpleStatement(
        "SELECT version, owner FROM cas WHERE k = %s", consistency_level=ConsistencyLevel.SERIAL
    )
    return session.execute(query, (key,)).one()


@pytest.mark.slow
def test_keyspace_is_replicated_on_all_three_nodes(session: Any) -> None:
    row = session.execute(
        "SELECT replication FROM system_schema.keyspaces WHERE keyspace_name = %s", (KEYSPACE,)
    ).one()
    assert row.replication["replication_factor"] == "3"
    assert len(list(session.execute("SELECT peer FROM system.peers_v2"))) == 2


@pytest.mark.slow
def test_an_lwt_applies_once_and_loses_once(session: Any) -> None:
    key = uuid.uuid4().hex
    insert = "INSERT INTO cas (k, version, owner) VALUES (%s, 1, %s) IF NOT EXISTS"
    assert session.execute(insert, (key, "alice")).was_applied
    lost = session.execute(insert, (key, "bob"))
    assert not lost.was_applied and lost.one().owner == "alice"

    assert session.execute(UPDATE, (2, "bob", key, 1)).was_applied
    stale = session.execute(UPDATE, (2, "carol", key, 1))
    # A lost conditional update answers with the current values of its IF columns.
    assert not stale.was_applied and stale.one().version == 2
    assert (serial_read(session, key).version, serial_read(session, key).owner) == (2, "bob")


@pytest.mark.slow
def test_lwts_go_on_when_a_node_is_killed(
    cassandra_cluster: CassandraCluster, session: Any
) -> None:
    key = uuid.uuid4().hex
    session.execute("INSERT INTO cas (k, version, owner) VALUES (%s, 0, '') IF NOT EXISTS", (key,))
    cassandra_cluster.kill(2)
    try:
        for version in range(5):
            assert session.execute(UPDATE, (version + 1, "w", key, version)).was_applied
        assert serial_read(session, key).version == 5
    finally:
        cassandra_cluster.restart(2)
    assert all(n.running for n in cassandra_cluster.nodes)
    assert session.execute(UPDATE, (6, "w", key, 5)).was_applied
