"""``berthing demo``: the main job. See ``berthing.sim.demo`` for what it runs."""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from berthing.sim.demo import DEFAULT_POINT, Experiment, run_experiment
from berthing.sim.run import ARRIVALS, Point, RunSettings
from berthing.sim.sweep import SWEEP_FILLS, SWEEP_OPERATIONS, SWEEP_SCHEDULERS, grid

__all__ = ["add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    _point_options(p)
    _workload_options(p)
    _sweep_options(p)
    _run_options(p)


def _point_options(p: argparse.ArgumentParser) -> None:
    """The one point the default demo measures."""
    d = DEFAULT_POINT
    p.add_argument(
        "--fill",
        type=float,
        default=d.fill,
        help=f"how full the cloud is before the stream starts: the average host's "
        f"fullness in its scarcest class (default {d.fill})",
    )
    p.add_argument(
        "--schedulers",
        type=int,
        default=d.schedulers,
        help=f"scheduler processes running at once (default {d.schedulers})",
    )
    p.add_argument(
        "--arrivals",
        choices=(*ARRIVALS, "both"),
        default=None,
        help="steady: a new boot as one finishes, 16 in flight; bursty: waves of 32 "
        f"at once (default: {d.arrivals}; both with --sweep)",
    )


def _workload_options(p: argparse.ArgumentParser) -> None:
    """The cloud and the stream of operations every run of the demo gets."""
    r = RunSettings()
    p.add_argument(
        "--hosts",
        type=int,
        default=r.hosts,
        help=f"simulated hosts: mixed compute shapes, GPU and bare-metal nodes in 3 "
        f"availability zones, plus a shared storage pool per zone (default {r.hosts})",
    )
    p.add_argument(
        "--operations",
        "--requests",
        type=int,
        default=None,
        dest="operations",
        help=f"boots and deletes per run, half each (default {r.operations}; "
        f"{SWEEP_OPERATIONS} with --sweep)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=1,
        help="first seed: the same seed gives the same cloud and stream, byte for "
        "byte (default 1)",
    )
    p.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="runs per design and point: seeds seed, seed+1, ..., then seed again (default 3)",
    )
    p.add_argument(
        "--failure-rate",
        type=float,
        default=r.failure_rate,
        help=f"chance that a build fails on its host, the same placements in both "
        f"designs (default {r.failure_rate})",
    )


def _sweep_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--sweep",
        action="store_true",
        help="measure the curve: every fill x scheduler count x arrival pattern, both "
        "designs, --repeats each (192 runs by default: minutes on an idle machine), and "
        "write the HTML report with the plots",
    )
    p.add_argument(
        "--fills",
        type=_floats,
        default=SWEEP_FILLS,
        help=f"--sweep fills, comma-separated (default {_join(SWEEP_FILLS)})",
    )
    p.add_argument(
        "--scheduler-counts",
        type=_ints,
        default=SWEEP_SCHEDULERS,
        help=f"--sweep scheduler counts (default {_join(SWEEP_SCHEDULERS)})",
    )


def _run_options(p: argparse.ArgumentParser) -> None:
    r = RunSettings()
    p.add_argument(
        "--mode",
        choices=("both", "berthing", "classic"),
        default="both",
        help="berthing: claims in the store; classic: Nova's old FilterScheduler "
        "(a private copy of every host, claims at build time); both (default)",
    )
    p.add_argument(
        "--classic-refresh",
        type=float,
        default=r.classic_refresh,
        help=f"seconds between the classic schedulers' refreshes of their host copy "
        f"(default {r.classic_refresh:g})",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=r.timeout,
        help=f"stop a run after this many seconds even if work remains " f"(default {r.timeout:g})",
    )
    p.add_argument(
        "--store",
        help="run on a cluster instead of SQLite files: etcd://host:port,...[/prefix] or "
        "cassandra://host,host,host:port/keyspace (each run gets a fresh prefix or store)",
    )
    p.add_argument(
        "--keep-stores",
        action="store_true",
        help="keep each run's SQLite store under OUTPUT/work/runs for berthing check",
    )
    p.add_argument(
        "--output",
        type=Path,
        default=Path("berthing-report"),
        help="directory for results.json, report.html and the stores "
        "(default ./berthing-report)",
    )


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(x) for x in text.split(","))


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(","))


def _join(values: Sequence[object]) -> str:
    return ",".join(map(str, values))


def _machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass  # not Linux: keep platform's answer
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return {
        "cpu": cpu,
        "cores": os.cpu_count() or 1,
        "load average at start (1 min)": round(load, 2),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
    }


def _experiment(args: argparse.Namespace) -> Experiment:
    from berthing.model import InvalidInput

    if args.hosts < 10 or args.schedulers < 1 or args.repeats < 1:
        raise InvalidInput("--hosts must be at least 10, --schedulers and --repeats at least 1.")
    if not 0 <= args.failure_rate < 1:
        raise InvalidInput(f"--failure-rate must be in [0, 1), got {args.failure_rate}.")
    fills = args.fills if args.sweep else (args.fill,)
    if not all(0 <= f < 1 for f in fills):
        raise InvalidInput("A fill is a fraction in [0, 1), e.g. 0.85.")
    arrivals = args.arrivals or ("both" if args.sweep else DEFAULT_POINT.arrivals)
    patterns = ARRIVALS if arrivals == "both" else (arrivals,)
    if args.sweep:
        points = grid(tuple(fills), tuple(args.scheduler_counts), patterns)
    else:
        points = tuple(Point(args.fill, args.schedulers, a) for a in patterns)
    operations = args.operations or (SWEEP_OPERATIONS if args.sweep else RunSettings().operations)
    settings = RunSettings(
        hosts=args.hosts,
        operations=operations,
        failure_rate=args.failure_rate,
        classic_refresh=args.classic_refresh,
        timeout=args.timeout,
    )
    designs = ("berthing", "classic") if args.mode == "both" else (args.mode,)
    store_url = remote_stores(args.store) if args.store else None
    return Experiment(
        points, settings, args.seed, args.repeats, designs, args.output, store_url, args.keep_stores
    )


def remote_stores(base: str) -> Callable[[str], str]:
    """Per run, a fresh store on the given cluster (an etcd key prefix, a Cassandra
    store name): every run starts empty, and the report names it to inspect afterwards
    (``berthing check --store``)."""
    from berthing.model import InvalidInput

    head, mark, query = base.partition("?")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    if base.startswith("etcd://"):
        prefix = "" if "/" in head.removeprefix("etcd://") else "/berthing-demo"
        return lambda run: f"{head}{prefix}-{stamp}-{run}{mark}{query}"
    if base.startswith("cassandra://"):
        hosts, _, path = head.removeprefix("cassandra://").partition("/")
        keyspace, _, store = path.strip("/").partition("/")
        root = f"cassandra://{hosts}/{keyspace or 'berthing'}/{store or 'demo'}"
        return lambda run: f"{root}-{stamp}-{run}{mark}{query}"
    raise InvalidInput(
        f"--store {base!r}: the demo keeps SQLite stores under --output itself.",
        hint="Use --store only for a cluster: etcd://host:port,... or cassandra://hosts/keyspace.",
    )


def run(args: argparse.Namespace) -> int:
    from berthing.sim import page, report

    experiment = _experiment(args)
    console = Console()
    command = "berthing " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "berthing demo"
    machine = _machine()
    runs = len(experiment.points) * experiment.repeats * len(experiment.designs)
    console.print(
        f"[bold]berthing demo[/]: {len(experiment.points)} point(s) x {experiment.repeats} "
        f"repeats x {len(experiment.designs)} design(s) = {runs} runs"
    )
    results = _with_progress(console, experiment)
    results["command"] = command
    results["machine"] = machine
    json_path = report.write_json(results, experiment.output / "results.json")
    if len(experiment.points) <= 2:
        console.print(report.render_text(results))
    html = page.render_html(results, experiment.output / "report.html")
    # Plain print: rich would wrap long paths, and people copy these.
    print(f"results: {json_path}\nreport:  {html}")
    problems = [p for r in results["runs"] for p in r["audit_problems"]]
    unfinished = sum(r["unfinished"] for r in results["runs"])
    if problems or unfinished:
        print(
            f"berthing: error: {len(problems)} audit problem(s), {unfinished} unfinished boot(s)",
            file=sys.stderr,
        )
    return 1 if problems or unfinished else 0


def _with_progress(console: Console, experiment: Experiment) -> dict[str, Any]:
    from berthing.sim import report

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as bar:
        tasks: dict[str, Any] = {}

        def progress(what: str, done: int, total: int) -> None:
            if what not in tasks:
                tasks[what] = bar.add_task(what, total=total)
            bar.update(tasks[what], completed=done, total=total)

        partial = experiment.output / "runs-so-far.json"
        results = run_experiment(
            experiment, progress, lambda runs: report.write_json({"runs": runs}, partial)
        )
        partial.unlink(missing_ok=True)
        return results
