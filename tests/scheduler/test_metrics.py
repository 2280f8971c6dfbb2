"""The latency histogram: bounded however many calls, quantiles within one bucket."""

from __future__ import annotations

import random

from berthing.scheduler import LatencyHistogram


def test_quantiles_are_within_five_percent() -> None:
    rng = random.Random(1)
    values = sorted(rng.lognormvariate(-6, 1) for _ in range(20_000))
    h = LatencyHistogram()
    for v in values:
        h.observe(v)
    for q in (0.5, 0.9, 0.99):
        exact = values[int(q * (len(values) - 1))]
        assert abs(h.quantile(q) - exact) / exact < 0.05
    assert h.count == 20_000
    assert len(h.counts) < 400  # bounded: buckets, not samples


def test_merge_and_round_trip() -> None:
    a, b = LatencyHistogram(), LatencyHistogram()
    a.observe(0.001)
    b.observe(0.1)
    a.merge(b)
    again = LatencyHistogram.from_dict(a.to_dict())
    assert again == a and again.count == 2
    assert len(list(again.values())) == 2
    assert LatencyHistogram().quantile(0.5) == 0.0
