"""``berthing cassandra-cluster``: run a local 3-node Apache Cassandra cluster.

For trying Cassandra on one machine: three real Cassandra JVMs on 127.0.0.1-3, from the
jars of Maven Central (fetched once into a cache), data under ``--data-dir`` (reused,
with the same ports, when run again). It creates a keyspace replicated on all three
nodes, prints its URL, and runs until Ctrl-C, SIGTERM or SIGHUP, then stops the nodes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from berthing.cli.foreground import serve
from berthing.devtools.cassandra_cluster import CASSANDRA_VERSION, HEAP_MB, CassandraCluster

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", type=Path, required=True, help="where the nodes keep data and logs"
    )
    parser.add_argument(
        "--port",
        type=int,
        default=9042,
        help="CQL port on each node's address (default 9042); the cluster also uses "
        "PORT+1 between nodes and PORT+2..PORT+4 on 127.0.0.1 for JMX",
    )
    parser.add_argument(
        "--heap-mb", type=int, default=HEAP_MB, help=f"heap per node (default {HEAP_MB})"
    )
    parser.add_argument(
        "--keyspace",
        default="berthing",
        help="keyspace to create with replication factor 3 (default berthing)",
    )


def run(args: argparse.Namespace) -> int:
    cluster = CassandraCluster(args.data_dir, port=args.port, heap_mb=args.heap_mb)

    def start() -> None:
        print(f"starting Cassandra {CASSANDRA_VERSION} on {', '.join(cluster.hosts)} ...")
        cluster.start()
        cluster.create_keyspace(args.keyspace)

    def announce() -> None:
        print(f"Cassandra cluster of 3 running; data and logs in {args.data_dir}")
        print(f"store URL: {cluster.url(args.keyspace)}")
        print("Ctrl-C stops it.", flush=True)

    dead: list[str] = []

    def alive() -> bool:
        dead[:] = [n.name for n in cluster.nodes if not n.running]
        return not dead

    if serve(start, cluster.stop, alive, announce):
        return 0
    print(f"node(s) {', '.join(dead)} exited; their logs are under {args.data_dir}")
    return 1
