"""Counters a scheduler keeps about itself: what the API, the demo and Prometheus show.

Latencies go into a histogram of fixed, log-spaced buckets: its size is bounded
however long a conductor runs, and quantiles are exact to within one bucket (5%).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

__all__ = ["LatencyHistogram", "SchedulerMetrics"]

_LOWEST = 1e-5  # 10 microseconds
_GROWTH = 1.05
_BUCKETS = 360  # up to 10 us * 1.05**360: about 4 hours


@dataclass
class LatencyHistogram:
    """Seconds per call, counted in buckets ``[LOWEST * GROWTH**i, LOWEST * GROWTH**(i+1))``."""

    counts: Counter[int] = field(default_factory=Counter)
    total: float = 0.0

    @staticmethod
    def bucket(seconds: float) -> int:
        if seconds <= _LOWEST:
            return 0
        return min(int(math.log(seconds / _LOWEST, _GROWTH)), _BUCKETS - 1)

    @staticmethod
    def upper_bound(index: int) -> float:
        return float(_LOWEST * _GROWTH ** (index + 1))

    @classmethod
    def middle(cls, index: int) -> float:
        """The value that stands for every call counted in bucket ``index``."""
        return cls.upper_bound(index) / math.sqrt(_GROWTH)

    def observe(self, seconds: float) -> None:
        self.counts[self.bucket(seconds)] += 1
        self.total += seconds

    @property
    def count(self) -> int:
        return sum(self.counts.values())

    def quantile(self, q: float) -> float:
        """The value below which a fraction ``q`` of calls fall (a bucket's midpoint)."""
        n = self.count
        if not n:
            return 0.0
        rank = q * (n - 1)
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen > rank:
                return self.middle(index)
        return self.upper_bound(max(self.counts))

    def values(self) -> Iterator[float]:
        """One representative value per call (its bucket's midpoint), for plots."""
        for index in sorted(self.counts):
            value = self.middle(index)
            for _ in range(self.counts[index]):
                yield value

    def merge(self, other: LatencyHistogram) -> None:
        self.counts.update(other.counts)
        self.total += other.total

    def to_dict(self) -> dict[str, object]:
        return {"counts": {str(i): n for i, n in sorted(self.counts.items())}, "total": self.total}

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> LatencyHistogram:
        counts = data.get("counts", {})
        total = data.get("total", 0.0)
        assert isinstance(counts, Mapping) and isinstance(total, int | float)
        return cls(Counter({int(i): int(n) for i, n in counts.items()}), float(total))


@dataclass
class SchedulerMetrics:
    requests: int = 0
    placements: int = 0
    no_valid_host: int = 0
    conflicts: int = 0
    """Claims that lost a race (the store said no)."""
    retries: int = 0
    """Claim attempts beyond the first for an instance."""
    requeries: int = 0
    """Candidate lists spent and fetched again."""
    rejections: Counter[str] = field(default_factory=Counter)
    """Candidates rejected by filters, by reason."""
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    """Seconds per request, query to claim."""

    def as_dict(self) -> dict[str, object]:
        return {
            "requests": self.requests,
            "placements": self.placements,
            "no_valid_host": self.no_valid_host,
            "conflicts": self.conflicts,
            "retries": self.retries,
            "requeries": self.requeries,
            "rejections": dict(self.rejections),
        }
