"""``berthing etcd-cluster``: run a local 3-member etcd cluster for an ``etcd://`` store.

For trying the etcd backend on one machine: three real etcd processes on 127.0.0.1,
data under ``--data-dir`` (reused, with the same ports, when run again). It prints the
store URL and runs until Ctrl-C, SIGTERM or SIGHUP, then stops the members.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from berthing.cli.foreground import serve
from berthing.devtools.etcd_cluster import EtcdCluster

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", type=Path, required=True, help="where the members keep their data"
    )
    parser.add_argument("--size", type=int, default=3, help="members (default 3)")
    parser.add_argument(
        "--port",
        type=int,
        default=2379,
        help="client port of the first member; member i listens on PORT+10*i and peers on "
        "the next port (default 2379: 2379, 2389, 2399)",
    )


def run(args: argparse.Namespace) -> int:
    cluster = EtcdCluster(args.data_dir, size=args.size, base_port=args.port)

    def announce() -> None:
        print(f"etcd cluster of {args.size} running; data and logs in {args.data_dir}")
        print(f"store URL: {cluster.url('berthing')}")
        print(f"try:       berthing check --store {cluster.url('berthing')}")
        print("Ctrl-C stops it.", flush=True)

    dead: list[str] = []

    def alive() -> bool:
        dead[:] = [m.name for m in cluster.members if not m.running]
        return not dead

    if serve(cluster.start, cluster.stop, alive, announce):
        return 0
    print(f"member(s) {', '.join(dead)} exited; their logs are in {args.data_dir}")
    return 1
