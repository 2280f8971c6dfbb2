"""Prometheus metrics of a ``berthing serve`` process and of its cell's workers.

The workers are separate processes, so the metrics use the Prometheus client's
multiprocess mode (one file per process under ``PROMETHEUS_MULTIPROC_DIR``, summed at
scrape time by the API process). That variable must be set before prometheus_client
is imported anywhere: ``prepare(directory)`` does it, first thing in ``serve``.

Scheduler and conductor counters are kept by the scheduler itself
(``SchedulerMetrics``, ``ConductorStats``); a worker publishes their growth here every
second (``Publisher``), so the scheduling code carries no exporter.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from berthing.scheduler import SchedulerMetrics

__all__ = ["Publisher", "exposition", "prepare", "request_observer", "store_observer"]

_MULTIPROC = "PROMETHEUS_MULTIPROC_DIR"
# Seconds, 0.5 ms to 10 s: a candidate query on SQLite to a slow remote claim.
_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def prepare(directory: Path) -> None:
    """Start an empty multiprocess directory for this server and its children."""
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    os.environ[_MULTIPROC] = str(directory)


def _metrics() -> dict[str, Any]:
    from prometheus_client import Counter, Histogram

    return {
        "requests": Histogram(
            "berthing_http_request_seconds",
            "HTTP requests by route and status",
            ["api", "route", "method", "status"],
            buckets=_BUCKETS,
        ),
        "store": Histogram(
            "berthing_store_call_seconds",
            "Store calls by operation",
            ["operation"],
            buckets=_BUCKETS,
        ),
        "scheduling": Histogram(
            "berthing_scheduling_seconds", "Scheduling calls, query to claim", buckets=_BUCKETS
        ),
        "scheduler": Counter("berthing_scheduler_events", "Scheduler counters", ["event"]),
        "rejections": Counter(
            "berthing_scheduler_rejections", "Candidates rejected by filters", ["reason"]
        ),
        "builds": Counter("berthing_build_events", "Build outcomes and reschedules", ["event"]),
    }


_M: dict[str, Any] | None = None
# A conductor process observes store calls from its loop thread while its main thread
# publishes counters: unguarded, both could create the metrics at once, and the
# second registration (DuplicateTimeseries) killed the conductor.
_M_LOCK = threading.Lock()


def _m() -> dict[str, Any]:
    global _M
    if _M is None:
        with _M_LOCK:
            if _M is None:
                _M = _metrics()
    return _M


def request_observer(api: str, route: str, method: str, status: int, seconds: float) -> None:
    _m()["requests"].labels(api, route, method, str(status)).observe(seconds)


def store_observer(operation: str, seconds: float) -> None:
    _m()["store"].labels(operation).observe(seconds)


class Publisher:
    """Adds what a scheduler's and conductor's counters gained since the last call."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}

    def publish(self, scheduler: SchedulerMetrics, conductor_stats: Mapping[str, int]) -> None:
        m = _m()
        for name in (
            "requests",
            "placements",
            "no_valid_host",
            "conflicts",
            "retries",
            "requeries",
        ):
            self._add(m["scheduler"].labels(name), f"s.{name}", getattr(scheduler, name))
        for reason, n in scheduler.rejections.items():
            self._add(m["rejections"].labels(reason), f"r.{reason}", n)
        for name, n in conductor_stats.items():
            self._add(m["builds"].labels(name), f"b.{name}", n)
        histogram = scheduler.latency
        for index, n in histogram.counts.items():
            new = n - int(self._seen.get(f"l.{index}", 0))
            for _ in range(new):  # one observation per call, at its bucket's middle
                m["scheduling"].observe(histogram.middle(index))
            self._seen[f"l.{index}"] = n

    def _add(self, counter: Any, key: str, total: float) -> None:
        grown = total - self._seen.get(key, 0)
        if grown > 0:
            counter.inc(grown)
        self._seen[key] = total


def exposition(extra: Any = None) -> tuple[bytes, str]:
    """Every process's metrics, summed, in Prometheus' text format."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # untyped upstream
    if extra is not None:
        registry.register(extra)
    return generate_latest(registry), CONTENT_TYPE_LATEST
