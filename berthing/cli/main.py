"""``berthing``: one entry point, a sub-command per job.

Errors from berthing reach the user as one line saying what is wrong and what to
do next, with exit status 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
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
        "sqlite:// (in memory), etcd://host:port,host:port,...[/prefix] or "
        "cassandra://host,host,...[:port]/keyspace[/store]",
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
    _add_tools(sub)

    from berthing.cli import operate

    operate.add_commands(sub)
    check = sub.add_parser("check", help="audit a store: no over-allocation, usage == allocations")
    _add_store_option(check)
    check.set_defaults(run=_check)
    _add_services(sub)
    return parser


_DEMO = (
    "Simulate a cloud: hosts as agents, several scheduler processes, a seeded stream of boots "
    "and deletes on a prefilled cloud. Runs it with berthing's store claims and with the "
    "classic (Nova FilterScheduler) design, several times each, and prints every key metric "
    "with its spread and a verdict only where the difference exceeds it; --sweep measures the "
    "curve over fill, scheduler count and arrivals. Writes results.json and report.html."
)
_SERVE = (
    "Run berthing's HTTP server: the OpenStack Placement API at /, berthing's own at /v1, and "
    "the cell's workers, on 127.0.0.1 by default, over the embedded SQLite store or any "
    "--store URL."
)
_CASSANDRA = (
    "Fetch Cassandra's jars from Maven Central (once), start three nodes on 127.0.0.1-3, "
    "create a keyspace replicated on all three, print its URL."
)


def _add_tools(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The commands whose module brings its own ``add_arguments`` and ``run``."""
    from berthing.cli import cassandra_cluster, demo, etcd_cluster, serve
    from berthing.sim import bench

    for name, module, text, description in (
        ("demo", demo, "simulate a cloud; compare berthing with the classic scheduler", _DEMO),
        ("bench", bench, "measure the scheduler, the Placement API against Placement, boots", None),
        ("etcd-cluster", etcd_cluster, "run a local 3-member etcd cluster (etcd:// store)", None),
        ("serve", serve, "run the HTTP APIs (Placement 1.0-1.39, /v1) and a cell", _SERVE),
        (
            "cassandra-cluster",
            cassandra_cluster,
            "run a local 3-node Cassandra cluster",
            _CASSANDRA,
        ),
    ):
        command = sub.add_parser(name, help=text, description=description or text)
        module.add_arguments(command)
        command.set_defaults(run=module.run)


def _add_services(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from berthing.cli import services

    for name, add, text in (
        ("agent", services.add_agent, "run the compute agent for this machine"),
        ("conductor", services.add_conductor, "run a conductor (with its scheduler) for a cell"),
        ("boot", services.add_boot, "submit a build request (and optionally wait for it)"),
    ):
        command = sub.add_parser(name, help=text, description=text)
        add(command)
        _add_store_option(command)


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
    except BrokenPipeError:
        # The reader stopped reading (`berthing server list --quiet | head -1`): that is
        # its choice, not our failure. Exit 0 quietly, so that pipelines under
        # `set -o pipefail` (the README's) do not fail by a race with `head`; stdout is
        # pointed at /dev/null first, or the interpreter's final flush raises again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
