"""The Cassandra LWT anchor: bare compare-and-set cycles, the ceiling for a store built on LWTs.

The same anchor as etcd's in ``docs/benchmarks.md``. Each client is its own process
with its own partition, and repeats one cycle: a SERIAL read of ``version``, then
``UPDATE ... SET version = n + 1 IF version = n``. A store's claim does at least
this much, so its placements per second are measured against this rate.

    python -m berthing.devtools.cassandra_anchor --port 19042 --clients 1,4 --seconds 10

It needs a running cluster (``berthing cassandra-cluster``) and creates keyspace
``anchor`` (replication factor 3) there. Numbers measured with it are in
docs/cassandra.md.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Any

__all__ = ["AnchorResult", "measure"]

HOSTS = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
KEYSPACE = "anchor"
WARMUP_CYCLES = 20


@dataclass(frozen=True)
class AnchorResult:
    clients: int
    commit: str
    cycles_per_s: float
    p50_ms: float
    p99_ms: float
    client_cpu_ms_per_cycle: float

    def line(self) -> str:
        return (
            f"{self.clients} client(s), commit {self.commit}: {self.cycles_per_s:.1f} cycles/s, "
            f"p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms, "
            f"driver CPU {self.client_cpu_ms_per_cycle:.1f} ms/cycle"
        )


def _session(port: int, commit: str, keyspace: str | None) -> tuple[Any, Any]:
    """(driver cluster, session): token-aware, SERIAL for conditions, ``commit`` for writes."""
    from cassandra import ConsistencyLevel
    from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile
    from cassandra.policies import DCAwareRoundRobinPolicy, TokenAwarePolicy

    profile = ExecutionProfile(
        load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy(local_dc="datacenter1")),
        request_timeout=30.0,
        consistency_level=getattr(ConsistencyLevel, commit),
        serial_consistency_level=ConsistencyLevel.SERIAL,
    )
    cluster = Cluster(
        HOSTS,
        port=port,
        protocol_version=5,
        execution_profiles={EXEC_PROFILE_DEFAULT: profile},
        max_schema_agreement_wait=60,
    )
    return cluster, cluster.connect(keyspace)


def _prepare_schema(port: int) -> None:
    cluster, session = _session(port, "QUORUM", None)
    try:
        session.execute(
            f"CREATE KEYSPACE IF NOT EXISTS {KEYSPACE} WITH replication = "
            "{'class': 'SimpleStrategy', 'replication_factor': 3}",
            timeout=60.0,
        )
        session.execute(
            f"CREATE TABLE IF NOT EXISTS {KEYSPACE}.cas "
            "(k text PRIMARY KEY, version int, payload text)",
            timeout=60.0,
        )
    finally:
        cluster.shutdown()


def _client(job: tuple[int, str, float, float]) -> tuple[int, list[float], float, str]:
    """One client process: (cycles, latencies in s, CPU s, error text or "")."""
    port, commit, start_at, seconds = job
    cluster, session = _session(port, commit, KEYSPACE)
    try:
        return _cycles(session, start_at, seconds)
    except Exception as exc:  # driver exceptions do not survive pickling: send text
        return 0, [], 0.0, f"{type(exc).__name__}: {exc}"
    finally:
        cluster.shutdown()


def _cycles(session: Any, start_at: float, seconds: float) -> tuple[int, list[float], float, str]:
    from cassandra import ConsistencyLevel

    key = uuid.uuid4().hex
    read = session.prepare("SELECT version FROM cas WHERE k = ?")
    read.consistency_level = ConsistencyLevel.SERIAL
    update = session.prepare("UPDATE cas SET version = ?, payload = 'x' WHERE k = ? IF version = ?")
    # Conditional too: a plain write at commit level ANY could be only a hint.
    session.execute(
        "INSERT INTO cas (k, version, payload) VALUES (%s, 0, '') IF NOT EXISTS", (key,)
    )

    def cycle() -> None:
        version = session.execute(read, (key,)).one().version
        if not session.execute(update, (version + 1, key, version)).was_applied:
            raise RuntimeError(f"CAS on own partition {key} lost")

    for _ in range(WARMUP_CYCLES):
        cycle()
    time.sleep(max(0.0, start_at - time.time()))  # every client starts the window together
    latencies, cpu0, end = [], time.process_time(), time.monotonic() + seconds
    while time.monotonic() < end:
        began = time.monotonic()
        cycle()
        latencies.append(time.monotonic() - began)
    return len(latencies), latencies, time.process_time() - cpu0, ""


def measure(port: int, clients: int, seconds: float, commit: str = "QUORUM") -> AnchorResult:
    """Run ``clients`` processes for ``seconds`` each on the cluster at ``port``."""
    _prepare_schema(port)
    start_at = time.time() + 5.0 + clients  # time to spawn, connect and warm up
    jobs = [(port, commit, start_at, seconds)] * clients
    with multiprocessing.get_context("spawn").Pool(clients) as pool:
        results = pool.map(_client, jobs)
    errors = [r[3] for r in results if r[3]]
    if errors:
        raise RuntimeError(f"anchor client failed: {errors[0]}")
    cycles = sum(r[0] for r in results)
    latencies = sorted(x for r in results for x in r[1])
    return AnchorResult(
        clients=clients,
        commit=commit,
        cycles_per_s=cycles / seconds,
        p50_ms=latencies[len(latencies) // 2] * 1000,
        p99_ms=latencies[int(len(latencies) * 0.99)] * 1000,
        client_cpu_ms_per_cycle=sum(r[2] for r in results) * 1000 / cycles,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m berthing.devtools.cassandra_anchor")
    parser.add_argument("--port", type=int, default=9042, help="CQL port of the cluster")
    parser.add_argument("--clients", default="1,4", help="client counts to run (default 1,4)")
    parser.add_argument("--seconds", type=float, default=10.0, help="window per run")
    parser.add_argument("--commit", choices=["QUORUM", "ANY"], default="QUORUM")
    args = parser.parse_args(argv)
    for clients in (int(c) for c in args.clients.split(",")):
        print(measure(args.port, clients, args.seconds, args.commit).line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
