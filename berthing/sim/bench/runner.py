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
from berthing.sim.bench.machine import busy_cpu_seconds, calibrate, machine_facts
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
#: A run whose calibration took this many times the fastest one is repeated too.
SLOW = 1.3


class BenchFailed(BerthingError):
    code = "berthing.bench_failed"


def run_benchmark(opts: BenchOptions, progress: Progress) -> Report:
    opts.store_dir.mkdir(parents=True, exist_ok=True)
    machine = machine_facts()
    runs: list[RunResult] = []
    notes: list[str] = []
    judge = _Judge()
    for size in opts.sizes:
        task = progress.add_task(f"cloud of {size:,} providers", total=size)
        path, summary = template(opts.store_dir, size, opts.seed, _advance_to(progress, task))
        for procs in opts.schedulers:
            requests = _requests_for(opts, summary, procs, notes)
            run = _least_disturbed(opts, path, summary, procs, requests, progress, notes, judge)
            runs.append(run)
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


class _Judge:
    """Tells a disturbed run: other processes took CPU meanwhile (``DISTURBED``), or the
    machine itself ran slow, its calibration ``SLOW`` times the fastest seen in this
    invocation (a shared VM slows down without any load showing inside it)."""

    def __init__(self) -> None:
        self.fastest = calibrate()

    def score(self, run: RunResult) -> float:
        """Above 1.0: disturbed. The lower, the cleaner the run."""
        self.fastest = min(self.fastest, run.calibration_ms)
        slow = run.calibration_ms / (SLOW * self.fastest)
        return max((run.other_cpu or 0.0) / DISTURBED, slow)

    def why(self, run: RunResult) -> str:
        return (
            f"other processes took {run.other_cpu or 0.0:.0%} of the CPU, calibration "
            f"{run.calibration_ms:.0f} ms against {self.fastest:.0f} ms at best"
        )


def _least_disturbed(
    opts: BenchOptions,
    source: Path,
    summary: CloudSummary,
    procs: int,
    requests: int,
    progress: Progress,
    notes: list[str],
    judge: _Judge,
) -> RunResult:
    """Run, and run again (up to ``opts.reruns`` times) while the run was disturbed;
    keep the least disturbed attempt."""
    label = f"{summary.hosts:,} providers x {procs}"
    best = _run(opts, source, summary, procs, requests, progress)
    for _ in range(opts.reruns):
        if judge.score(best) <= 1.0:
            break
        notes.append(f"{label}: {judge.why(best)}; run again")
        result = _run(opts, source, summary, procs, requests, progress)
        best = min(best, result, key=judge.score)
    if judge.score(best) > 1.0:
        notes.append(f"{label}: still disturbed, kept the least disturbed run ({judge.why(best)})")
    return best


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
    before = calibrate()
    reports, machine_busy = _run_processes(
        jobs, lambda n: progress.update(task, advance=n, description=label)
    )
    calibration = max(before, calibrate())
    progress.update(task, description=f"{label}: auditing the store")
    with open_store(url) as store:
        fill, problems = cloud_fill(store), audit(store)
    progress.update(task, description=label)
    cores = os.cpu_count() or 1
    return summarize(
        summary.hosts, requests, reports, fill, problems, cores, machine_busy, calibration
    )


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
