"""``berthing demo --sweep``: the seed's claim as a curve.

The two things that make races matter are swept: how full the cloud is, and how many
schedulers run at once, under steady and bursty arrivals. Every point runs both
designs with the same repeats as the default demo, so each point of each curve has
its spread. Shorter runs than the default demo keep the whole grid to minutes.
"""

from __future__ import annotations

from berthing.sim.run import ARRIVALS, Point

__all__ = ["SWEEP_FILLS", "SWEEP_OPERATIONS", "SWEEP_SCHEDULERS", "grid"]

SWEEP_FILLS = (0.3, 0.6, 0.85, 0.95)
SWEEP_SCHEDULERS = (1, 2, 4, 8)
SWEEP_OPERATIONS = 120


def grid(
    fills: tuple[float, ...] = SWEEP_FILLS,
    schedulers: tuple[int, ...] = SWEEP_SCHEDULERS,
    arrivals: tuple[str, ...] = ARRIVALS,
) -> tuple[Point, ...]:
    """Every combination, in the order the report's tables list them."""
    return tuple(Point(f, n, a) for a in arrivals for n in schedulers for f in fills)
