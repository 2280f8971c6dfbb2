"""``berthing bench scheduler``: placement latency and throughput on synthetic clouds.

Per cloud size, one SQLite template store is built (once, through the Store contract)
and copied for every run; per run, N scheduler processes place a seeded request stream
through ``Scheduler.select_destinations`` against the copy, and against the same cloud
on each remote engine named by ``--store``. The report gives p50/p99 latency per call,
placements per second, conflicts and retries, peak RSS, how full the cloud ended, an
audit of the store, each remote engine's bare compare-and-set rate, and a verdict on
each target.

Only ``argparse`` is imported here: the CLI builds its parser on every invocation.
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from berthing.sim.bench.options import parse_counts, parse_max_size

    kinds = parser.add_subparsers(dest="bench", required=True, metavar="{scheduler,api}")
    _api_arguments(
        kinds.add_parser(
            "api",
            help="berthing serve against the real OpenStack Placement, side by side",
            description="Register the same fleet in berthing serve and in OpenStack Placement 16.0 "
            "(installed on demand), then time allocation candidates and full placements.",
        )
    )
    p = kinds.add_parser(
        "scheduler",
        help="placement latency and throughput on clouds of 1k-100k providers",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    p.add_argument("--sizes", type=parse_counts, help="providers per cloud (default 1k,10k,100k)")
    p.add_argument("--schedulers", type=parse_counts, help="processes per run (default 1,2,4)")
    p.add_argument("--requests", type=int, help="timed requests per process (default 2000)")
    p.add_argument("--warmup", type=int, help="untimed requests per process first (default 100)")
    p.add_argument("--seed", type=int, help="seed of the clouds and streams (default 1)")
    p.add_argument("--store-dir", type=Path, help="where template and run stores live")
    p.add_argument("--output", type=Path, help="write the results as JSON here")
    p.add_argument("--markdown", type=Path, help="write the results as markdown here")
    p.add_argument(
        "--reruns", type=int, help="repeat a run disturbed by other load or a slow VM (default 2)"
    )
    p.add_argument(
        "--store",
        action="append",
        help="also run every configuration on these engines, side by side with SQLite "
        "(comma-separated, or the option repeated): etcd://host:port,host:port,host:port"
        "[/prefix] or etcd-local; cassandra://host,host,host[:port]/keyspace (the bench "
        "works in a scratch keyspace it creates and drops) or cassandra-local[:port] "
        "(default port 9142); a *-local engine is a throwaway 3-member cluster on "
        "127.0.0.1 started for the run. Each engine's bare compare-and-set anchor is "
        "measured in the same run",
    )
    p.add_argument(
        "--max-size",
        type=parse_max_size,
        action="append",
        metavar="ENGINE=PROVIDERS",
        help="run that remote engine only on the sizes up to PROVIDERS (repeatable), e.g. "
        "cassandra=3000: registering 10k providers on a local Cassandra takes half an "
        "hour on two busy cores",
    )
    p.add_argument("--quick", action="store_true", help="a small run for CI (200 providers)")


def _api_arguments(p: argparse.ArgumentParser) -> None:
    from berthing.sim.bench.options import parse_counts

    p.add_argument(
        "--sizes", type=parse_counts, default=(1_000, 10_000), help="providers (default 1k,10k)"
    )
    p.add_argument(
        "--clients", type=parse_counts, default=(1, 4), help="client processes (default 1,4)"
    )
    p.add_argument(
        "--samples", type=int, default=100, help="timed candidate requests per query (100)"
    )
    p.add_argument("--placements", type=int, default=200, help="placements per client (200)")
    p.add_argument("--no-peer", action="store_true", help="berthing only (no Placement install)")
    p.add_argument("--output", type=Path, help="write the results as JSON here")


def run(args: argparse.Namespace) -> int:
    """Run the benchmark; exit 1 if a store audit found over-allocation."""
    if args.bench == "api":
        return _run_api(args)
    from rich.console import Console
    from rich.progress import Progress

    from berthing.sim.bench.options import options_from_args
    from berthing.sim.bench.runner import run_benchmark

    opts = options_from_args(args)
    console = Console()
    if not console.is_terminal:
        console.width = 160  # logs and CI: rich would squeeze the tables into 80 columns
    with Progress(console=console, transient=True) as progress:
        report = run_benchmark(opts, progress)
    report.show(console)
    report.write(opts.output, opts.markdown)
    return 1 if any(r.audit_problems for r in report.runs) else 0


def _run_api(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from berthing.sim.bench.api import ApiBenchOptions, run_api_bench, table, write

    opts = ApiBenchOptions(
        args.sizes, args.clients, args.samples, args.placements, peer=not args.no_peer
    )
    console = Console()
    results = run_api_bench(opts, console.print)
    view = Table("providers", "measure", "berthing", "Placement", "berthing is")
    for row in table(results):
        view.add_row(*row)
    console.print(view)
    console.print(f"command: {opts.command()}")
    write(results, opts, args.output)
    return 0
