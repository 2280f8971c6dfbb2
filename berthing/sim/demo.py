"""``berthing demo``: the seed's claim, measured on a simulated cloud.

The claim: with claims in the store, a race between schedulers costs a cheap retry
instead of a failed build, and several schedulers can run at once. To test it, the
same seeded workload runs under both designs (berthing's claims in the store, and
the classic Nova design of ``berthing.sim.classic``) at one or more points: how full
the cloud is, how many schedulers run at once, and whether requests arrive steadily
or in bursts. Each point runs several times (different seeds, and the first seed
again), and every metric is reported with its spread (``berthing.sim.stats``).

The default demo measures one point; ``--sweep`` measures a grid of them
(``berthing.sim.sweep``). Both go through ``run_experiment``.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from berthing.sim.prepared import Clouds
from berthing.sim.run import Point, RunSettings, measure
from berthing.sim.stats import summarize
from berthing.sim.workers import DESIGNS, Workers
from berthing.sim.workload import Op, fingerprint, make_groups, make_stream

__all__ = ["DEFAULT_POINT", "Experiment", "repeat_seeds", "run_experiment"]

DEFAULT_POINT = Point(fill=0.9, schedulers=4, arrivals="bursty")
"""Where the claim is about: a full cloud, several schedulers, requests arriving together.
Chosen before measuring; ``--sweep`` shows every other point."""

Progress = Callable[[str, int, int], None]
"""(what, done, total): ``runs`` over the whole experiment, ``operations`` in a run."""


@dataclass(frozen=True)
class Experiment:
    points: tuple[Point, ...] = (DEFAULT_POINT,)
    run: RunSettings = field(default_factory=RunSettings)
    seed: int = 1
    repeats: int = 3
    designs: tuple[str, ...] = DESIGNS
    output: Path = Path("berthing-report")
    store_url: Callable[[str], str] | None = None
    """None: SQLite files under ``output``; else a fresh store URL per run name (etcd)."""
    keep_stores: bool = False

    def settings(self) -> dict[str, Any]:
        return {
            **asdict(self.run),
            "seed": self.seed,
            "repeats": self.repeats,
            "seeds": repeat_seeds(self.seed, self.repeats),
            "designs": list(self.designs),
            "points": [asdict(p) for p in self.points],
            "store": "sqlite" if self.store_url is None else self.store_url("<run>"),
        }


def repeat_seeds(seed: int, repeats: int) -> list[int]:
    """The seed of each repeat: ``repeats - 1`` different seeds, then the first again,
    so the spread shows both what a different workload changes and what the operating
    system's scheduling of processes alone changes."""
    if repeats <= 1:
        return [seed]
    return [seed + i for i in range(repeats - 1)] + [seed]


def run_experiment(
    e: Experiment,
    progress: Progress,
    checkpoint: Callable[[list[dict[str, Any]]], object] | None = None,
) -> dict[str, Any]:
    """Every point x repeat x design, designs alternating which goes first.
    ``checkpoint`` gets the runs so far after each run: a long sweep stopped halfway
    keeps what it measured."""
    started = time.monotonic()
    clouds = Clouds(e.output / "work", e.run.hosts, e.run.pools, e.store_url)
    plan = [
        (point, i, seed)
        for point in e.points
        for i, seed in enumerate(repeat_seeds(e.seed, e.repeats))
    ]
    total = len(plan) * len(e.designs)
    runs: list[dict[str, Any]] = []
    streams: dict[tuple[int, float], tuple[list[Op], str]] = {}
    with Workers(max(p.schedulers for p in e.points)) as workers:
        setup = time.monotonic() - started
        for point, i, seed in plan:
            order = e.designs if i % 2 == 0 else tuple(reversed(e.designs))
            for design in order:
                progress("runs", len(runs), total)
                name = f"{len(runs):04d}-{design}"
                runs.append(
                    _one(e, clouds, workers, streams, point, i, seed, design, name, progress)
                )
                if checkpoint is not None:
                    checkpoint(runs)
        progress("runs", len(runs), total)
    timing = {
        "total_s": round(time.monotonic() - started, 1),
        "setup_s": round(sum(c.seconds for c in clouds.prepared()) + setup, 1),
        "runs_s": round(sum(r["wall_s"] for r in runs), 1),
        "cpu_s": round(_cpu_seconds(), 1),
    }
    return _assemble(e, clouds, runs, streams, timing)


def _cpu_seconds() -> float:
    """CPU time of this process and of the workers (joined by now), set-up included:
    on a busy machine, wall time says more about the neighbours than about the demo."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def _one(
    e: Experiment,
    clouds: Clouds,
    workers: Workers,
    streams: dict[tuple[int, float], tuple[list[Op], str]],
    point: Point,
    repeat: int,
    seed: int,
    design: str,
    name: str,
    progress: Progress,
) -> dict[str, Any]:
    url, cloud = clouds.open(seed, point.fill, name)
    key = (seed, point.fill)
    if key not in streams:
        ops = make_stream(e.run.operations, seed, cloud.live, make_groups(seed), e.run.pools)
        streams[key] = (ops, fingerprint(ops))
    ops, digest = streams[key]
    result = measure(
        workers, url, cloud, design, point, ops, e.run, lambda d, t: progress("operations", d, t)
    )
    if e.store_url is None and not e.keep_stores:
        clouds.discard(name)
    return {
        "design": design,
        "point": asdict(point),
        "seed": seed,
        "repeat": repeat,
        "cloud_sha256": cloud.sha256,
        "stream_sha256": digest,
        "store": url,
        **result,
    }


def _assemble(
    e: Experiment,
    clouds: Clouds,
    runs: list[dict[str, Any]],
    streams: dict[tuple[int, float], tuple[list[Op], str]],
    timing: dict[str, float],
) -> dict[str, Any]:
    return {
        "settings": e.settings(),
        "timing": timing,
        "clouds": [
            {
                "seed": c.seed,
                "target_fill": c.target_fill,
                "fill": c.fill,
                "sha256": c.sha256,
                "prefilled": len(c.live),
                "seconds": round(c.seconds, 2),
            }
            for c in clouds.prepared()
        ],
        "streams": [
            {"seed": seed, "fill": fill, "operations": len(ops), "sha256": digest}
            for (seed, fill), (ops, digest) in sorted(streams.items())
        ],
        "points": [
            {**asdict(p), "summary": summarize([r for r in runs if r["point"] == asdict(p)])}
            for p in e.points
        ],
        "runs": runs,
    }
