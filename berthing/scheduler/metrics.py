"""Counters a scheduler keeps about itself: what the API, the demo and Prometheus show."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

__all__ = ["SchedulerMetrics"]


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
    latencies: list[float] = field(default_factory=list)
    """Seconds per request, query to claim."""

    def merge(self, other: SchedulerMetrics) -> None:
        for name in (
            "requests",
            "placements",
            "no_valid_host",
            "conflicts",
            "retries",
            "requeries",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.rejections.update(other.rejections)
        self.latencies.extend(other.latencies)

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
