"""Verdicts only beyond the spread, stated for every metric, losses included."""

from __future__ import annotations

import math

import pytest

from berthing.sim.stats import METRICS, Metric, compare, spread, summarize, value

LOWER = Metric("x", "x", "lower")
HIGHER = Metric("x", "x", "higher")
NEUTRAL = Metric("x", "x", "")


def test_spread_is_median_and_range_ignoring_missing_runs() -> None:
    s = spread([3.0, math.nan, 1.0, 10.0])
    assert (s.median, s.low, s.high, s.n) == (3.0, 1.0, 10.0, 3)
    assert spread([math.nan]).n == 0


@pytest.mark.parametrize(
    ("metric", "berthing", "classic", "outcome"),
    [
        (LOWER, [0, 0, 1], [5, 9, 12], "better"),
        (LOWER, [5, 9, 12], [0, 0, 1], "worse"),
        (HIGHER, [80, 82, 84], [90, 91, 95], "worse"),
        (HIGHER, [90, 91, 95], [80, 82, 84], "better"),
        (NEUTRAL, [52, 53, 54], [40, 41, 42], "higher"),
        (LOWER, [0, 0, 6], [5, 9, 12], "unclear"),  # one berthing run reaches classic's range
        (LOWER, [100, 100, 100], [101, 102, 103], "unclear"),  # apart, but by under 5%
    ],
)
def test_verdict_follows_the_ranges(
    metric: Metric, berthing: list[float], classic: list[float], outcome: str
) -> None:
    verdict = compare(metric, spread(berthing), spread(classic))
    assert verdict.outcome == outcome
    if outcome in ("better", "worse"):
        assert verdict.text == f"berthing {outcome}"


def test_no_data_is_no_verdict() -> None:
    assert compare(LOWER, spread([]), spread([1.0])).outcome == "n/a"


def test_every_metric_gets_a_verdict_from_runs() -> None:
    runs = [
        {"design": d, "race_failures": n, "fragmentation": {"MEMORY_MB": 0.1 + n / 100}}
        for d, values in (("berthing", (0, 0, 0)), ("classic", (4, 6, 9)))
        for n in values
    ]
    summary = summarize(runs)
    assert set(summary) == {m.key for m in METRICS}
    assert summary["race_failures"]["verdict"] == "better"
    assert summary["race_failures"]["classic"] == {"median": 6, "low": 4, "high": 9, "n": 3}
    assert summary["fragmentation.MEMORY_MB"]["verdict"] == "better"
    assert summary["placements_per_s"]["verdict"] == "n/a"  # not in these runs


def test_value_reads_nested_keys_and_refuses_non_numbers() -> None:
    run = {"a": {"b": 2}, "flag": True}
    assert value(run, "a.b") == 2.0
    assert math.isnan(value(run, "a.c")) and math.isnan(value(run, "flag"))
