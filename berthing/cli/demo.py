"""``berthing demo``: the main job. See ``berthing.sim.demo`` for what it runs."""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import shlex
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from berthing.sim.demo import DemoSettings, run_demo

__all__ = ["add_arguments", "run"]


def add_arguments(p: argparse.ArgumentParser) -> None:
    d = DemoSettings()
    _workload_options(p, d)
    _run_options(p, d)


def _workload_options(p: argparse.ArgumentParser, d: DemoSettings) -> None:
    """What is simulated: the cloud and the stream of requests."""
    p.add_argument(
        "--hosts",
        type=int,
        default=d.hosts,
        help=f"simulated hosts: mixed compute shapes, GPU and bare-metal nodes in 3 "
        f"availability zones, plus a shared storage pool per zone (default {d.hosts})",
    )
    p.add_argument(
        "--requests",
        type=int,
        default=d.requests,
        help=f"operations in the seeded stream: ~75%% boots, the rest resizes and "
        f"deletes (default {d.requests})",
    )
    p.add_argument(
        "--schedulers",
        type=int,
        default=d.schedulers,
        help=f"scheduler processes running in parallel (default {d.schedulers})",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=d.seed,
        help="seed of the cloud and the workload: same seed, same runs (default 1)",
    )
    p.add_argument(
        "--failure-rate",
        type=float,
        default=d.failure_rate,
        help=f"chance that a host fails a build, which the conductor reschedules "
        f"(default {d.failure_rate})",
    )


def _run_options(p: argparse.ArgumentParser, d: DemoSettings) -> None:
    """How it runs: designs compared, time limit, store and output."""
    p.add_argument(
        "--duration",
        type=float,
        default=d.duration,
        help=f"stop a mode after this many seconds even if work remains "
        f"(default {d.duration:g})",
    )
    p.add_argument(
        "--mode",
        choices=("both", "berthing", "classic"),
        default="both",
        help="berthing: claims in the store; classic: Nova's old FilterScheduler "
        "(cached host state, claims at build time); both: side by side (default)",
    )
    p.add_argument(
        "--classic-refresh",
        type=float,
        default=d.classic_refresh,
        help="seconds between the classic schedulers' refreshes of their host copy "
        f"(default {d.classic_refresh:g})",
    )
    p.add_argument(
        "--store",
        help="run on a cluster instead of SQLite files: etcd://host:port,...[/prefix] or "
        "cassandra://host,host,host:port/keyspace "
        "(each mode gets a fresh prefix <prefix>-<mode>-<time>, or store demo-<mode>-<time>)",
    )
    p.add_argument(
        "--output",
        type=Path,
        default=d.output,
        help=f"directory for the stores, results.json and report.html " f"(default ./{d.output})",
    )


def _machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass  # not Linux: keep platform's answer
    return {
        "cpu": cpu,
        "cores": os.cpu_count() or 1,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
    }


def _settings(args: argparse.Namespace) -> DemoSettings:
    from berthing.model import InvalidInput

    if args.hosts < 10 or args.requests < 1 or args.schedulers < 1:
        raise InvalidInput("--hosts must be at least 10, --requests and --schedulers at least 1.")
    if not 0 <= args.failure_rate < 1:
        raise InvalidInput(f"--failure-rate must be in [0, 1), got {args.failure_rate}.")
    modes = ("berthing", "classic") if args.mode == "both" else (args.mode,)
    settings = DemoSettings(
        hosts=args.hosts,
        seed=args.seed,
        schedulers=args.schedulers,
        requests=args.requests,
        failure_rate=args.failure_rate,
        duration=args.duration,
        modes=modes,
        output=args.output,
        classic_refresh=args.classic_refresh,
    )
    if args.store:
        settings = dataclasses.replace(settings, store_url=remote_stores(args.store))
    return settings


def remote_stores(base: str) -> Callable[[str, Path], str]:
    """Per mode, a fresh store on the given cluster (an etcd key prefix, a Cassandra
    store name): every run starts empty, and the report names it to inspect afterwards
    (``berthing check --store``)."""
    from berthing.model import InvalidInput

    head, mark, query = base.partition("?")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    if base.startswith("etcd://"):
        prefix = "" if "/" in head.removeprefix("etcd://") else "/berthing-demo"
        return lambda mode, _work: f"{head}{prefix}-{mode}-{stamp}{mark}{query}"
    if base.startswith("cassandra://"):
        hosts, _, path = head.removeprefix("cassandra://").partition("/")
        keyspace, _, store = path.strip("/").partition("/")
        root = f"cassandra://{hosts}/{keyspace or 'berthing'}/{store or 'demo'}"
        return lambda mode, _work: f"{root}-{mode}-{stamp}{mark}{query}"
    raise InvalidInput(
        f"--store {base!r}: the demo keeps SQLite stores under --output itself.",
        hint="Use --store only for a cluster: etcd://host:port,... or cassandra://hosts/keyspace.",
    )


def run(args: argparse.Namespace) -> int:
    from berthing.sim import report

    settings = _settings(args)
    console = Console()
    command = "berthing " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "berthing demo"
    console.print(
        f"[bold]berthing demo[/]: {settings.hosts} hosts, {settings.requests} operations, "
        f"{settings.schedulers} schedulers, modes: {', '.join(settings.modes)}"
    )
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        tasks: dict[str, Any] = {}

        def progress(what: str, done: int, total: int) -> None:
            if what not in tasks:
                tasks[what] = bar.add_task(what, total=total)
            bar.update(tasks[what], completed=done, total=total)

        results = run_demo(settings, progress)
    results["command"] = command
    results["machine"] = _machine()
    json_path = report.write_json(results, settings.output / "results.json")
    console.print(report.render_text(results))
    html = report.render_html(results, settings.output / "report.html")
    # Plain print: rich would wrap long paths, and people copy these.
    print(f"results: {json_path}\nreport:  {html}")
    problems = sum(len(m["audit_problems"]) for m in results["modes"].values())
    crashed = [w for m in results["modes"].values() for w in m["crashed_workers"]]
    if crashed:
        print(
            f"berthing: error: worker processes died: {', '.join(crashed)}; "
            "their output above says why.",
            file=sys.stderr,
        )
    return 1 if problems or crashed else 0
