"""Scheduler configuration: a TOML file with sane defaults.

Example ``scheduler.toml``::

    [scheduler]
    filters = ["ignore_hosts", "same_host", "different_host", "server_group",
               "num_instances", "io_ops"]
    host_subset_size = 2      # pick at random among the best N to avoid collisions
    candidate_limit = 50      # providers fetched per query (max_placement_results)
    max_attempts = 6          # claims tried per instance before "no valid host"
    max_instances_per_host = 50
    max_io_ops_per_host = 8

    [scheduler.weights]       # multipliers; a negative resource multiplier packs
    ram = 1.0
    cpu = 0.0
    disk = 0.0
    io_ops = -1.0
    build_failure = 1000000.0
    soft_affinity = 1.0
    soft_anti_affinity = 1.0
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from berthing.model import InvalidInput

__all__ = ["DEFAULT_FILTERS", "DEFAULT_WEIGHTS", "SchedulerConfig", "load_config"]

DEFAULT_FILTERS: tuple[str, ...] = (
    "ignore_hosts",
    "same_host",
    "different_host",
    "server_group",
    "num_instances",
    "io_ops",
)
DEFAULT_WEIGHTS: Mapping[str, float] = {
    "ram": 1.0,
    "cpu": 0.0,
    "disk": 0.0,
    "io_ops": -1.0,
    "build_failure": 1_000_000.0,
    "soft_affinity": 1.0,
    "soft_anti_affinity": 1.0,
}


@dataclass(frozen=True, slots=True)
class SchedulerConfig:
    filters: tuple[str, ...] = DEFAULT_FILTERS
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    host_subset_size: int = 2
    candidate_limit: int = 50
    max_attempts: int = 6
    max_alternates: int = 3
    max_instances_per_host: int = 50
    max_io_ops_per_host: int = 8

    def __post_init__(self) -> None:
        for name in ("host_subset_size", "candidate_limit", "max_attempts"):
            if getattr(self, name) < 1:
                raise InvalidInput(f"scheduler.{name} must be at least 1.")

    def with_strategy(self, strategy: str) -> SchedulerConfig:
        """``spread`` (default signs) or ``pack``: flips the resource multipliers."""
        if strategy not in ("spread", "pack"):
            raise InvalidInput(f"Unknown strategy {strategy!r}.", hint="Use spread or pack.")
        sign = 1.0 if strategy == "spread" else -1.0
        weights = dict(self.weights)
        for name in ("ram", "cpu", "disk"):
            weights[name] = sign * abs(weights.get(name, 0.0))
        return replace(self, weights=weights)


def load_config(path: str | Path | None) -> SchedulerConfig:
    """Read ``[scheduler]`` from a TOML file; unknown keys are an error, not ignored."""
    if path is None:
        return SchedulerConfig()
    try:
        data: dict[str, Any] = tomllib.loads(Path(path).read_text()).get("scheduler", {})
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InvalidInput(f"Cannot read scheduler config {path}: {exc}.") from exc
    known = {f.name for f in fields(SchedulerConfig)}
    unknown = set(data) - known
    if unknown:
        raise InvalidInput(
            f"Unknown scheduler option(s) in {path}: {', '.join(sorted(unknown))}.",
            hint=f"Known options: {', '.join(sorted(known))}.",
        )
    if "filters" in data:
        data["filters"] = tuple(data["filters"])
    if "weights" in data:
        data["weights"] = {**DEFAULT_WEIGHTS, **data["weights"]}
    return SchedulerConfig(**data)
