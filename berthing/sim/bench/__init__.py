"""``berthing bench scheduler``: placement latency and throughput on synthetic clouds.

Per cloud size, one SQLite template store is built (once, through the Store contract)
and copied for every run; per run, N scheduler processes place a seeded request stream
through ``Scheduler.select_destinations`` against the copy, and against the same cloud
on each remote engine named by ``--store``. The report gives p50/p99 latency per call,
placements per second, conflicts and retries, peak RSS, how full the cloud ended, an
audit of the store, each remote engine's bare compare-and-set rate, and a verdict on
each target.

``berthing bench api`` (``api.py``) runs the Placement API against the real Placement;
``berthing bench boots`` (``boots.py``) times boots through the native API against the
scheduler in process.

Only ``argparse`` is imported here: the CLI builds its parser on every invocation.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    kinds = parser.add_subparsers(dest="bench", required=True, metavar="{scheduler,api,boots}")
    _api_arguments(
        kinds.add_parser(
            "api",
            help="berthing serve against the real OpenStack Placement, side by side",
            description="Register the same fleet in berthing serve and in OpenStack Placement 16.0 "
            "(installed on demand), then time allocation candidates and full placements.",
        )
    )
    _boots_arguments(
        kinds.add_parser(
            "boots",
            help="boots through the native API per second, against the scheduler in process",
            description="Boot servers through /v1 of berthing serve --simulate-hosts N (boot "
            "to ACTIVE) with 1 and 4 clients, then make as many placements by calling the "
            "scheduler in process on an equal store; report both rates and their ratio.",
        )
    )
    _scheduler_arguments(
        kinds.add_parser(
            "scheduler",
            help="placement latency and throughput on clouds of 1k-100k providers",
            description=__doc__.split("\n\n")[1] if __doc__ else None,
        )
    )


def _scheduler_arguments(p: argparse.ArgumentParser) -> None:
    from berthing.sim.bench.options import parse_counts, parse_max_size

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
        "--samples", type=int, default=100, help="timed candidate requests per query, at most (100)"
    )
    p.add_argument(
        "--placements", type=int, default=200, help="placements per client, at most (200)"
    )
    p.add_argument(
        "--seconds",
        type=float,
        default=300.0,
        help="time allowed to one query's samples or one placement run (300)",
    )
    p.add_argument("--no-peer", action="store_true", help="berthing only (no Placement install)")
    p.add_argument(
        "--workdir", type=Path, default=Path("/tmp/berthing-bench-api"), help="stores and logs"
    )
    p.add_argument("--output", type=Path, help="write the results as JSON here")


def _boots_arguments(p: argparse.ArgumentParser) -> None:
    from berthing.sim.bench.options import parse_counts

    p.add_argument("--hosts", type=parse_counts, default=(1_000,), help="simulated hosts (1000)")
    p.add_argument(
        "--clients", type=parse_counts, default=(1, 4), help="client processes (default 1,4)"
    )
    p.add_argument("--boots", type=int, default=100, help="timed boots per client (100)")
    p.add_argument(
        "--conductors", type=int, default=1, help="conductors of the served cell (serve's 1)"
    )
    p.add_argument(
        "--poll", type=float, default=0.02, help="seconds between looks at a booting server"
    )
    p.add_argument(
        "--workdir", type=Path, default=Path("/tmp/berthing-bench-boots"), help="stores and logs"
    )
    p.add_argument("--output", type=Path, help="write the results as JSON here")


def run(args: argparse.Namespace) -> int:
    """Run the benchmark; exit 1 if a store audit found over-allocation."""
    if args.bench == "api":
        return _run_api(args)
    if args.bench == "boots":
        return _run_boots(args)
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
    from rich.table import Table

    from berthing.devtools.placement_peer import PeerError
    from berthing.model import BerthingError
    from berthing.sim.bench.api import ApiBenchOptions, run_api_bench, table

    opts = ApiBenchOptions(
        args.sizes,
        args.clients,
        args.samples,
        args.placements,
        seconds=args.seconds,
        peer=not args.no_peer,
        workdir=args.workdir,
    )
    console = _console()
    try:
        results = run_api_bench(opts, console.print, args.output)
    except PeerError as exc:  # the peer's own words: what to install or remove
        raise BerthingError(str(exc)) from exc
    view = Table("providers", "measure", "berthing", "Placement", "berthing is")
    for row in table(results):
        view.add_row(*row)
    console.print(view)
    loads = ", ".join(
        f"{r.target} {r.providers}: {r.load[0]:.2f}-{r.load[-1]:.2f}" for r in results
    )
    console.print(f"load (1 min, start-end of each target): {loads}")
    console.print(f"command: {opts.command()}")
    return 0


def _run_boots(args: argparse.Namespace) -> int:
    from rich.table import Table

    from berthing.model import InvalidInput
    from berthing.sim.bench.boots import COLUMNS, BootBenchOptions, run_boots_bench, table, write

    if len(args.hosts) != 1:
        raise InvalidInput(f"--hosts takes one count, not {len(args.hosts)}.")
    opts = BootBenchOptions(
        args.hosts[0], args.clients, args.boots, args.conductors, args.poll, args.workdir
    )
    console = _console()
    rows = run_boots_bench(opts, console.print)
    view = Table(*COLUMNS)
    for row in table(rows):
        view.add_row(*row)
    console.print(view)
    console.print(f"command: {opts.command()}")
    write(rows, opts, args.output)
    return 0


def _console() -> Console:
    from rich.console import Console

    console = Console()
    if not console.is_terminal:
        console.width = 160  # logs and CI: rich would squeeze the tables into 80 columns
    return console
