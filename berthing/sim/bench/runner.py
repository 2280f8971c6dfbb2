"""Runs the benchmark: per cloud size, a template store; per scheduler count, a fresh
copy of it and that many scheduler processes started together."""

from __future__ import annotations

import multiprocessing
import os
import queue
import resource
from collections.abc import Callable, Sequence
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from rich.progress import Progress, TaskID

from berthing.model import BerthingError
from berthing.sim.bench.machine import busy_cpu_seconds, machine_facts
from berthing.sim.bench.options import BenchOptions
from berthing.sim.bench.report import Report
from berthing.sim.bench.results import RunResult, summarize
from berthing.sim.bench.targets import check
from berthing.sim.bench.templates import fresh_copy, template
from berthing.sim.bench.worker import Job, work
from berthing.sim.bench.workload import expected_fill
from berthing.sim.cloud import CloudSummary, cloud_fill
from berthing.store import open_store
from berthing.store.audit import audit

__all__ = ["BenchFailed", "run_benchmark"]

JOIN_TIMEOUT = 60.0
#: Share of the machine's CPU taken by other processes above which a run is repeated.
DISTURBED = 0.10


class BenchFailed(BerthingError):
    code = "berthing.bench_failed"


def run_benchmark(opts: BenchOptions, progress: Progress) -> Report:
    opts.store_dir.mkdir(parents=True, exist_ok=True)
    machine = machine_facts()
    runs: list[RunResult] = []
    notes: list[str] = []
    for size in opts.sizes:
        task = progress.add_task(f"cloud of {size:,} providers", total=size)
        path, summary = template(opts.store_dir, size, opts.seed, _advance_to(progress, task))
        for procs in opts.schedulers:
            requests = _requests_for(opts, summary, procs, notes)
            runs.append(_least_disturbed(opts, path, summary, procs, requests, progress, notes))
    return Report(opts.command(), machine, runs, check(runs), notes)


def _advance_to(progress: Progress, task: TaskID) -> Callable[[int], None]:
    return lambda done: progress.update(task, completed=done)


def _requests_for(opts: BenchOptions, summary: CloudSummary, procs: int, notes: list[str]) -> int:
    """``opts.requests``, or fewer if the cloud would end up fuller than ``max_fill``."""
    total = procs * (opts.requests + opts.warmup)
    fill = max(expected_fill(summary, total).values())
    if fill <= opts.max_fill:
        return opts.requests
    fewer = max(1, int(total * opts.max_fill / fill) // procs - opts.warmup)
    notes.append(
        f"{summary.hosts:,} providers x {procs}: {fewer} timed requests per process instead "
        f"of {opts.requests}, to stay under {opts.max_fill:.0%} full"
    )
    return fewer


def _least_disturbed(
    opts: BenchOptions,
    source: Path,
    summary: CloudSummary,
    procs: int,
    requests: int,
    progress: Progress,
    notes: list[str],
) -> RunResult:
    """Run, and run again (up to ``opts.reruns`` times) while other processes took more
    than ``DISTURBED`` of the CPU; keep the least disturbed attempt."""
    best = _run(opts, source, summary, procs, requests, progress)
    for _ in range(opts.reruns):
        if _other(best) <= DISTURBED:
            break
        notes.append(
            f"{summary.hosts:,} providers x {procs}: other processes took "
            f"{_other(best):.0%} of the CPU; run again"
        )
        result = _run(opts, source, summary, procs, requests, progress)
        best = min(best, result, key=_other)
    if _other(best) > DISTURBED:
        notes.append(
            f"{summary.hosts:,} providers x {procs}: still disturbed after {opts.reruns} "
            f"rerun(s); kept the least disturbed run ({_other(best):.0%} other load)"
        )
    return best


def _other(run: RunResult) -> float:
    return run.other_cpu or 0.0


def _run(
    opts: BenchOptions,
    source: Path,
    summary: CloudSummary,
    procs: int,
    requests: int,
    progress: Progress,
) -> RunResult:
    label = f"{summary.hosts:,} providers, {procs} scheduler(s)"
    task = progress.add_task(f"{label}: warming up", total=procs * requests)
    url = fresh_copy(source, opts.store_dir / f"run-{summary.hosts}-{procs}.db")
    total = procs * (requests + opts.warmup)
    jobs = [Job(url, i, requests, opts.warmup, opts.seed * 1000 + i, total) for i in range(procs)]
    reports, machine_busy = _run_processes(
        jobs, lambda n: progress.update(task, advance=n, description=label)
    )
    progress.update(task, description=f"{label}: auditing the store")
    with open_store(url) as store:
        fill, problems = cloud_fill(store), audit(store)
    progress.update(task, description=label)
    cores = os.cpu_count() or 1
    return summarize(summary.hosts, requests, reports, fill, problems, cores, machine_busy)


def _run_processes(
    jobs: Sequence[Job], advance: Callable[[int], None]
) -> tuple[list[dict[str, Any]], float | None]:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(jobs))
    events = ctx.Queue()
    processes = [
        ctx.Process(target=work, args=(job, barrier, events), name=f"bench-scheduler-{job.index}")
        for job in jobs
    ]
    for p in processes:
        p.start()
    try:
        return _collect(events, processes, advance)
    finally:
        for p in processes:
            p.join(JOIN_TIMEOUT)
            if p.is_alive():  # only after a failure elsewhere: stop our own child
                p.terminate()
                p.join()


def _collect(
    events: Any, processes: Sequence[BaseProcess], advance: Callable[[int], None]
) -> tuple[list[dict[str, Any]], float | None]:
    """Every worker's report, in worker order, and the CPU seconds the whole machine
    used while they placed (from all ready to all done). Raises as soon as one fails."""
    reports: dict[int, dict[str, Any]] = {}
    ready, busy_from = 0, None
    while len(reports) < len(processes):
        try:
            kind, index, payload = events.get(timeout=1.0)
        except queue.Empty:
            for p in processes:
                if p.exitcode not in (None, 0):
                    raise BenchFailed(f"{p.name} exited with status {p.exitcode}.") from None
            continue
        if kind == "ready":
            ready += 1
            if ready == len(processes):
                busy_from = _busy_now()
        elif kind == "progress":
            advance(payload)
        elif kind == "done":
            reports[index] = payload
        elif kind == "error":
            raise BenchFailed(f"bench-scheduler-{index} failed: {payload}")
    busy_to = _busy_now()
    busy = None if busy_from is None or busy_to is None else busy_to - busy_from
    return [reports[i] for i in sorted(reports)], busy


def _busy_now() -> float | None:
    """Machine-wide busy CPU seconds, minus this (parent) process's own."""
    machine = busy_cpu_seconds()
    if machine is None:
        return None
    own = resource.getrusage(resource.RUSAGE_SELF)
    return machine - own.ru_utime - own.ru_stime
