"""Repeats, spread and verdicts: what may be said about two designs from a few runs.

Every metric of a point is reported as the median of its repeats with their range
(lowest to highest). A verdict is given only where the two designs' ranges do not
overlap, and the medians differ by at least ``MIN_RELATIVE`` of the larger one: a
difference smaller than the spread between repeats of the same design is noise, and
is called that. Every metric gets a verdict line, the ones berthing loses included.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "DESCRIPTIONS",
    "METRICS",
    "MIN_RELATIVE",
    "Metric",
    "Spread",
    "Verdict",
    "compare",
    "spread",
    "summarize",
    "value",
]

MIN_RELATIVE = 0.05


@dataclass(frozen=True, slots=True)
class Metric:
    key: str
    """Path in a run's results, dots between levels (``fragmentation.MEMORY_MB``)."""
    label: str
    better: str
    """``lower``, ``higher``, or ``""`` where neither is better (how full the cloud ends)."""
    unit: str = ""
    scale: float = 1.0
    digits: int = 0
    key_metric: bool = False
    """Shown in the short verdict of the default demo."""

    def format(self, x: float) -> str:
        if math.isnan(x):
            return "n/a"
        return f"{x * self.scale:,.{self.digits}f}"


METRICS: tuple[Metric, ...] = (
    Metric("race_failures", "race failures", "lower", key_metric=True),
    Metric("retries", "retries", "lower", key_metric=True),
    Metric("reschedules", "reschedules", "lower", key_metric=True),
    Metric("failed_builds", "failed builds", "lower"),
    Metric("no_valid_host", "no valid host", "lower", key_metric=True),
    Metric("errors", "boots in ERROR", "lower"),
    Metric("placements_per_s", "placements/s", "higher", digits=1, key_metric=True),
    Metric("latency_p50_ms", "latency p50", "lower", "ms", digits=1, key_metric=True),
    Metric("latency_p99_ms", "latency p99", "lower", "ms", digits=1, key_metric=True),
    Metric("to_active_p50_ms", "to ACTIVE p50", "lower", "ms"),
    Metric("to_active_p99_ms", "to ACTIVE p99", "lower", "ms"),
    Metric("fragmentation.MEMORY_MB", "memory fragm.", "lower", "%", 100, 1, key_metric=True),
    Metric("fragmentation.VCPU", "vCPU fragm.", "lower", "%", 100, 1),
    Metric("utilization.MEMORY_MB", "memory used", "", "%", 100, 1, key_metric=True),
    Metric("fill_end", "fill at end", "", "%", 100, 1),
    Metric("queries_per_placement", "queries/placement", "lower", digits=2, key_metric=True),
    Metric("providers_read_per_placement", "providers read/pl.", "lower", key_metric=True),
    Metric("claims_per_placement", "claims/placement", "lower", digits=2, key_metric=True),
)
"""Labels are short for the terminal; ``DESCRIPTIONS`` says what each one counts."""

DESCRIPTIONS: dict[str, str] = {
    "race_failures": "builds that failed because the host could not claim what the "
    "scheduler chose: another scheduler took the room first",
    "retries": "claims beyond the first within one scheduling call: a claim the store "
    "refused, tried again on the next candidate",
    "reschedules": "failed builds (races or injected failures) placed again",
    "failed_builds": "every failed build: races plus injected failures",
    "no_valid_host": "scheduling calls that found no host",
    "errors": "boots that ended in ERROR",
    "placements_per_s": "successful scheduling calls per second of the run, all schedulers",
    "latency_p50_ms": "one scheduling call, query to claim, median",
    "latency_p99_ms": "one scheduling call, 99th percentile",
    "to_active_p50_ms": "from submit to ACTIVE, median",
    "to_active_p99_ms": "from submit to ACTIVE, 99th percentile",
    "fragmentation.MEMORY_MB": "share of free memory on hosts too full to take an m1.large",
    "fragmentation.VCPU": "share of free vCPUs on hosts too full to take an m1.large",
    "utilization.MEMORY_MB": "share of the compute hosts' memory in use at the end",
    "fill_end": "the average compute host's fullness in its scarcest class, at the end",
    "queries_per_placement": "candidate queries sent to the store per placement",
    "providers_read_per_placement": "providers read from the store per placement",
    "claims_per_placement": "compare-and-set claims sent to the store per placement "
    "(classic: by the host at build time)",
}


def value(run: Mapping[str, Any], key: str) -> float:
    """A metric of one run; NaN where the run has none (no boot became ACTIVE)."""
    cur: Any = run
    for part in key.split("."):
        if not isinstance(cur, Mapping) or part not in cur:
            return math.nan
        cur = cur[part]
    if isinstance(cur, bool) or not isinstance(cur, int | float):
        return math.nan
    return float(cur)


@dataclass(frozen=True, slots=True)
class Spread:
    median: float
    low: float
    high: float
    n: int

    def to_dict(self) -> dict[str, float]:
        return {"median": self.median, "low": self.low, "high": self.high, "n": self.n}


def spread(values: Iterable[float]) -> Spread:
    kept = [v for v in values if not math.isnan(v)]
    if not kept:
        return Spread(math.nan, math.nan, math.nan, 0)
    return Spread(statistics.median(kept), min(kept), max(kept), len(kept))


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: str
    """``better`` or ``worse`` (for berthing), ``higher``/``lower`` where neither is
    better, ``unclear`` (ranges overlap), or ``n/a``."""
    text: str


def compare(metric: Metric, berthing: Spread, classic: Spread) -> Verdict:
    """berthing against classic on one metric, said only if it exceeds the spread."""
    if not berthing.n or not classic.n:
        return Verdict("n/a", "no data on one side")
    if berthing.low <= classic.high and classic.low <= berthing.high:
        return Verdict("unclear", "within spread")
    larger = max(abs(berthing.median), abs(classic.median))
    if abs(berthing.median - classic.median) < MIN_RELATIVE * larger:
        return Verdict("unclear", f"under {MIN_RELATIVE:.0%} apart")
    higher = berthing.median > classic.median
    word = "higher" if higher else "lower"
    if not metric.better:
        return Verdict(word, f"berthing {word}")
    good = higher == (metric.better == "higher")
    outcome = "better" if good else "worse"
    return Verdict(outcome, f"berthing {outcome}")


def summarize(runs: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per metric: each design's spread and the verdict, for runs of one point."""
    out: dict[str, dict[str, Any]] = {}
    for metric in METRICS:
        by = {
            d: spread(value(r, metric.key) for r in runs if r["design"] == d)
            for d in ("berthing", "classic")
        }
        verdict = compare(metric, by["berthing"], by["classic"])
        out[metric.key] = {
            **{d: s.to_dict() for d, s in by.items()},
            "verdict": verdict.outcome,
            "verdict_text": verdict.text,
        }
    return out
