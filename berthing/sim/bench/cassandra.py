"""The Cassandra side of ``berthing bench scheduler --store``: the cluster, one cloud per
size in a store of its own, and the lightweight-transaction cycle of the anchor.

``--store cassandra://h1,h2,h3[:port]/keyspace`` uses a running cluster: the benchmark
works in a scratch keyspace ``<keyspace>_bench_<time>`` (replication factor 3, or the
URL's ``replication``) that it creates, and drops at the end; the keyspace the URL
names is not touched. ``--store cassandra-local[:port]`` starts a throwaway 3-node
cluster on 127.0.0.1-3 (``berthing.devtools.cassandra_cluster``, CQL on ``port``,
default ``LOCAL_PORT``) under ``--store-dir`` and stops and removes it afterwards.

The anchor's cycle is what a claim's LWT costs at least, on one partition of its
own per client: a SERIAL read of ``version``, then ``UPDATE ... IF version = n``,
through the backend's own session (``berthing.store.cassandra.session.Cql``: the same
driver, policies and consistency levels as the store).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from berthing.devtools.cassandra_cluster import CassandraCluster
from berthing.model import InvalidInput
from berthing.sim.bench.anchor import Anchor, Cycle, measure
from berthing.sim.bench.sites import Say, Site
from berthing.store.cassandra.config import parse_url
from berthing.store.cassandra.schema import ensure_schema
from berthing.store.cassandra.session import Cql

__all__ = ["CYCLE", "LOCAL", "LOCAL_PORT", "CassandraSite", "cassandra_site"]

#: ``--store`` value (optionally ``:port``) that starts a throwaway local cluster.
LOCAL = "cassandra-local"
#: CQL port of a local cluster: away from a dev cluster's 9042 and the tests' 19042.
LOCAL_PORT = 9142
LOCAL_KEYSPACE = "berthing_bench"
CYCLE = "SERIAL read + UPDATE ... IF version = n, one partition"
#: Keyspace names are at most 48 characters; the scratch one adds this many.
_SCRATCH_SUFFIX = len("_bench_20250101_000000")

# Table names are qualified with the keyspace (``{ks}``): no USE, which may not have
# reached every pooled connection of a fresh keyspace yet.
_TABLE = "CREATE TABLE IF NOT EXISTS {ks}.bench_cas (k text PRIMARY KEY, version bigint)"
_FIRST = "INSERT INTO {ks}.bench_cas (k, version) VALUES (?, 0) IF NOT EXISTS"
_READ = "SELECT version FROM {ks}.bench_cas WHERE k = ?"
_WRITE = "UPDATE {ks}.bench_cas SET version = ? WHERE k = ? IF version = ?"


class CassandraSite(Site):
    """A cluster to benchmark on and the keyspace the benchmark's stores live in."""

    engine = "cassandra"
    # Registering a provider is several LWTs of a few round trips each; the Python side
    # mostly waits. Measured at 200 providers on a loaded 2-core box: 55 s in one
    # thread, 30 s in eight (the cluster's CPU is then the limit).
    build_threads = 8

    def __init__(
        self,
        hosts: Sequence[str],
        port: int,
        keyspace: str,
        query: str = "",
        pids: Sequence[int] = (),
        local: bool = False,
    ) -> None:
        super().__init__(local, pids)
        self.hosts, self.port, self.keyspace, self.query = tuple(hosts), port, keyspace, query
        self.created = False

    def url(self, name: str) -> str:
        query = f"?{self.query}" if self.query else ""
        return f"cassandra://{','.join(self.hosts)}:{self.port}/{self.keyspace}/{name}{query}"

    def anchor(self, say: Say) -> Anchor:
        """Each client its own partition of table ``bench_cas`` in the bench keyspace."""
        say("cassandra: creating the benchmark's keyspace and tables")
        url = self.url("anchor")
        cql = Cql(parse_url(url))
        try:
            self.created = True
            ensure_schema(cql, self.keyspace, parse_url(url).replication)
            cql.ddl(_TABLE.format(ks=self.keyspace))
        finally:
            cql.close()
        return measure(self.engine, CYCLE, _lwt_client, url, progress=say)

    def clean_up(self) -> None:
        """Drop the scratch keyspace (on a cluster the benchmark did not start)."""
        if self.local or not self.created:
            return
        cql = Cql(parse_url(self.url("anchor")))
        try:
            cql.ddl(f"DROP KEYSPACE IF EXISTS {self.keyspace}")
        finally:
            cql.close()


@contextmanager
def cassandra_site(spec: str, store_dir: Path, stamp: str, say: Say) -> Iterator[CassandraSite]:
    """The cluster ``spec`` names (``cassandra://...`` or ``cassandra-local[:port]``)."""
    if spec == LOCAL or spec.startswith(f"{LOCAL}:"):
        with _local(_local_port(spec), store_dir / f"cassandra-{stamp}", say) as site:
            yield site
        return
    if not spec.startswith("cassandra://"):
        raise InvalidInput(
            f"--store {spec!r} is not a Cassandra cluster.",
            hint=f"Use cassandra://host,host,host[:port]/keyspace or {LOCAL}[:port].",
        )
    config = parse_url(spec)
    if len(config.keyspace) + _SCRATCH_SUFFIX > 48:
        raise InvalidInput(
            f"Keyspace {config.keyspace!r} is too long to name the benchmark's scratch "
            f"keyspace after it (at most {48 - _SCRATCH_SUFFIX} characters).",
            hint="Name a shorter keyspace in the URL; the benchmark does not write in it.",
        )
    keyspace = f"{config.keyspace}_bench_{stamp.replace('-', '_')}"
    site = CassandraSite(config.hosts, config.port, keyspace, spec.partition("?")[2])
    try:
        yield site
    finally:
        site.clean_up()


@contextmanager
def _local(port: int, data: Path, say: Say) -> Iterator[CassandraSite]:
    cluster = CassandraCluster(data, port=port)
    try:
        say(f"cassandra: starting a local 3-node cluster on port {port} (a minute or more)")
        cluster.start()
        pids = [n.process.pid for n in cluster.nodes if n.process is not None]
        yield CassandraSite(cluster.hosts, port, LOCAL_KEYSPACE, pids=pids, local=True)
    finally:
        say("cassandra: stopping the local cluster")
        cluster.stop()
        shutil.rmtree(data, ignore_errors=True)


def _local_port(spec: str) -> int:
    text = spec.removeprefix(LOCAL).removeprefix(":") or str(LOCAL_PORT)
    if not text.isdigit() or not 0 < int(text) < 65536 - 10:
        raise InvalidInput(f"--store {spec!r}: the port must be a number like {LOCAL_PORT}.")
    return int(text)


@contextmanager
def _lwt_client(url: str, index: int) -> Iterator[Cycle]:
    config = parse_url(url)
    cql = Cql(config)
    try:
        key = f"{config.store}-{index}"
        cql.cas([(_FIRST.format(ks=config.keyspace), (key,))], "the anchor's first write")
        yield lambda: _cycle(cql, config.keyspace, key)
    finally:
        cql.close()


def _cycle(cql: Cql, keyspace: str, key: str) -> bool:
    [row] = cql.serial_read(_READ.format(ks=keyspace), (key,), "the anchor's read")
    version = int(row["version"])
    write = _WRITE.format(ks=keyspace)
    result = cql.cas([(write, (version + 1, key, version))], "the anchor's LWT")
    if result is None:
        return False  # outcome unknown (a timeout): not counted; the next read tells
    if not result.applied:
        raise InvalidInput(f"LWT on the anchor's own partition {key!r} lost to nobody.")
    return True
