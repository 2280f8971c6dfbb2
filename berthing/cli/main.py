"""``berthing``: one entry point, a sub-command per job.

Errors from berthing reach the user as one line saying what is wrong and what to
do next, with exit status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable, Sequence

from berthing import __version__
from berthing.model import BerthingError

__all__ = ["main"]

Command = Callable[[argparse.Namespace], int]


def _add_store_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        default=None,
        help="store URL: sqlite:///path.db (default: a file under your data directory), "
        "sqlite:// (in memory), or etcd://host:port,host:port,...",
    )


def _check(args: argparse.Namespace) -> int:
    """Audit an existing store; one that does not exist is an error, never "clean"."""
    from berthing.store import open_store
    from berthing.store.audit import survey

    with open_store(args.store, create=False) as store:
        found = survey(store)
    for p in found.problems:
        print(p)
    print(
        f"{len(found.problems)} problem(s) in {store.url}: audited {found.providers} "
        f"providers, {found.consumers} consumers, {found.allocations} allocations"
    )
    return 1 if found.problems else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="berthing", description="A cloud resource scheduler built on shared, replicated state."
    )
    parser.add_argument("--version", action="version", version=f"berthing {__version__}")
    parser.add_argument("--log-level", default="WARNING", help="DEBUG, INFO, WARNING (default)")
    sub = parser.add_subparsers(dest="command", required=True)

    from berthing.cli import demo as demo_cmd

    demo = sub.add_parser(
        "demo",
        help="simulate a cloud with parallel schedulers; compare berthing with the classic "
        "scheduler on the same workload",
        description="Simulate a cloud: hosts as agents, several scheduler processes, a seeded "
        "stream of boots and deletes on a prefilled cloud. Runs it with berthing's store claims "
        "and with the classic (Nova FilterScheduler) design, several times each, and prints "
        "every key metric with its spread and a verdict only where the difference exceeds it; "
        "--sweep measures the curve over fill, scheduler count and arrivals. Writes "
        "results.json and report.html.",
    )
    demo_cmd.add_arguments(demo)
    demo.set_defaults(run=demo_cmd.run)

    from berthing.sim import bench

    bench_parser = sub.add_parser(
        "bench", help="measure the scheduler, the Placement API against Placement, boots via /v1"
    )
    bench.add_arguments(bench_parser)
    bench_parser.set_defaults(run=bench.run)

    from berthing.cli import etcd_cluster

    etcd = sub.add_parser("etcd-cluster", help="run a local 3-member etcd cluster (etcd:// store)")
    etcd_cluster.add_arguments(etcd)
    etcd.set_defaults(run=etcd_cluster.run)

    from berthing.cli import serve

    serve_parser = sub.add_parser(
        "serve",
        help="run the HTTP API (OpenStack Placement 1.0-1.39 compatible) over a store",
        description="Run berthing's HTTP server: the OpenStack Placement API at /, on 127.0.0.1 "
        "by default, over the embedded SQLite store or any --store URL.",
    )
    serve.add_arguments(serve_parser)
    serve_parser.set_defaults(run=serve.run)

    from berthing.cli import cassandra_cluster

    cassandra = sub.add_parser(
        "cassandra-cluster",
        help="run a local 3-node Apache Cassandra cluster (dev and test tooling)",
        description="Fetch Cassandra's jars from Maven Central (once), start three nodes "
        "on 127.0.0.1-3, create a keyspace replicated on all three, print its URL.",
    )
    cassandra_cluster.add_arguments(cassandra)
    cassandra.set_defaults(run=cassandra_cluster.run)

    from berthing.cli import operate

    operate.add_commands(sub)

    check = sub.add_parser("check", help="audit a store: no over-allocation, usage == allocations")
    _add_store_option(check)
    check.set_defaults(run=_check)

    from berthing.cli import services

    for name, add, text in (
        ("agent", services.add_agent, "run the compute agent for this machine"),
        ("conductor", services.add_conductor, "run a conductor (with its scheduler) for a cell"),
        ("boot", services.add_boot, "submit a build request (and optionally wait for it)"),
    ):
        command = sub.add_parser(name, help=text, description=text)
        add(command)
        _add_store_option(command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(message)s")
    run: Command = args.run
    try:
        return run(args)
    except BerthingError as exc:
        print(f"berthing: error: {exc.message}", file=sys.stderr)
        if exc.hint:
            print(f"berthing: next: {exc.hint}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
