"""``berthing bench api``: berthing serve against the real OpenStack Placement, side by
side in one run, over the same HTTP calls.

Per target (``berthing serve`` on its embedded SQLite store; Placement 16.0 under
gunicorn with SQLite and one worker, installed on demand by
``berthing.devtools.placement_peer``) and per fleet size: register the fleet as Nova's
compute services would (create, inventories, traits, an aggregate: four calls per
provider, plus a few nested trees); time ``GET /allocation_candidates`` with limit=10,
limit=1000 and a nested/granular query; run full placements (candidates, then
``PUT /allocations`` of one of them, a 409 moving on to the next) with 1 and 4 client
processes. Ratios are berthing's over Placement's: these machines are noisy, ratios
from one run are what to compare.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import random
import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from multiprocessing.queues import Queue
from pathlib import Path

import httpx

__all__ = ["ApiBenchOptions", "TargetResult", "run_api_bench", "table", "write"]

HEADERS = {"x-auth-token": "admin", "openstack-api-version": "placement 1.39"}
AGGREGATES = [str(uuid.UUID(int=0xA66 << 64 | i)) for i in range(10)]
INVENTORIES = {
    "VCPU": {"total": 32, "allocation_ratio": 4.0},
    "MEMORY_MB": {"total": 131072, "reserved": 2048},
    "DISK_GB": {"total": 2000},
}
FLAT = "resources=VCPU:2,MEMORY_MB:4096,DISK_GB:20"
NESTED = "resources=VCPU:1&resources_GPU=VGPU:1&required_GPU=CUSTOM_BENCH_GPU&group_policy=isolate"
SPAWN = multiprocessing.get_context("spawn")


@dataclass(frozen=True, slots=True)
class ApiBenchOptions:
    sizes: tuple[int, ...] = (1_000, 10_000)
    clients: tuple[int, ...] = (1, 4)
    samples: int = 100
    placements: int = 200
    """Placements per client in the full-placement runs."""
    nested_trees: int = 50
    peer: bool = True
    workdir: Path = Path("/tmp/berthing-bench-api")

    def command(self) -> str:
        sizes = ",".join(str(s) for s in self.sizes)
        clients = ",".join(str(c) for c in self.clients)
        peer = "" if self.peer else " --no-peer"
        return (
            f"berthing bench api --sizes {sizes} --clients {clients} --samples {self.samples} "
            f"--placements {self.placements}{peer}"
        )


@dataclass
class TargetResult:
    target: str
    providers: int
    register_per_s: float = 0.0
    latency_ms: dict[str, dict[str, float]] = field(default_factory=dict)
    """query -> {p50, p99}."""
    placements_per_s: dict[int, float] = field(default_factory=dict)
    """clients -> full placements per second."""
    conflicts: dict[int, int] = field(default_factory=dict)


def run_api_bench(opts: ApiBenchOptions, say: Callable[[str], None] = print) -> list[TargetResult]:
    results = []
    for size in opts.sizes:
        for name, target in _targets(opts, size):
            with target as url:
                say(f"{name} at {size} providers on {url}")
                results.append(_measure(name, url, size, opts, say))
    return results


def _targets(
    opts: ApiBenchOptions, size: int
) -> Iterator[tuple[str, contextlib.AbstractContextManager[str]]]:
    yield "berthing", _berthing(opts.workdir / f"berthing-{size}")
    if opts.peer:
        yield "placement", _placement(opts.workdir / f"placement-{size}")


@contextlib.contextmanager
def _berthing(where: Path) -> Iterator[str]:
    from berthing.devtools.server import ServerProcess

    where.mkdir(parents=True, exist_ok=True)
    (where / "b.db").unlink(missing_ok=True)
    with ServerProcess(f"sqlite:///{where / 'b.db'}", where, "--conductors", "0") as server:
        yield server.url


@contextlib.contextmanager
def _placement(where: Path) -> Iterator[str]:
    from berthing.devtools.placement_peer import PlacementPeer

    where.mkdir(parents=True, exist_ok=True)
    with PlacementPeer(database="sqlite", workers=1, run_dir=where) as peer:
        yield peer.url


def _measure(
    name: str, url: str, size: int, opts: ApiBenchOptions, say: Callable[[str], None]
) -> TargetResult:
    result = TargetResult(name, size)
    with httpx.Client(base_url=url, headers=HEADERS, timeout=600) as client:
        started = time.perf_counter()
        _register(client, size)
        result.register_per_s = size / (time.perf_counter() - started)
        _nested(client, opts.nested_trees)
        for label, query in (
            ("limit=10", f"{FLAT}&limit=10"),
            ("limit=1000", f"{FLAT}&limit=1000"),
            ("nested", f"{NESTED}&limit=10"),
        ):
            result.latency_ms[label] = _latency(client, query, opts.samples)
            say(f"  {label}: {result.latency_ms[label]}")
    for clients in opts.clients:
        rate, conflicts = _placements(url, clients, opts.placements)
        result.placements_per_s[clients] = rate
        result.conflicts[clients] = conflicts
        say(f"  {clients} client(s): {rate:.1f} placements/s, {conflicts} conflicts")
    return result


def _register(client: httpx.Client, size: int) -> None:
    client.put("/traits/CUSTOM_BENCH_GPU").raise_for_status()
    for i in range(size):
        p = client.post("/resource_providers", json={"name": f"cn-{i:06d}"}).json()
        inv = client.put(
            f"/resource_providers/{p['uuid']}/inventories",
            json={"resource_provider_generation": 0, "inventories": INVENTORIES},
        ).json()
        gen = inv["resource_provider_generation"]
        traits = ["COMPUTE_NODE", "HW_CPU_X86_AVX2" if i % 2 else "HW_CPU_X86_SSE42"]
        gen = client.put(
            f"/resource_providers/{p['uuid']}/traits",
            json={"resource_provider_generation": gen, "traits": traits},
        ).json()["resource_provider_generation"]
        client.put(
            f"/resource_providers/{p['uuid']}/aggregates",
            json={"resource_provider_generation": gen, "aggregates": [AGGREGATES[i % 10]]},
        ).raise_for_status()


def _nested(client: httpx.Client, trees: int) -> None:
    """Compute nodes with two GPU children each: the nested/granular query's answers."""
    for i in range(trees):
        root = client.post("/resource_providers", json={"name": f"gpu-cn-{i:04d}"}).json()
        client.put(
            f"/resource_providers/{root['uuid']}/inventories",
            json={"resource_provider_generation": 0, "inventories": {"VCPU": {"total": 16}}},
        ).raise_for_status()
        for g in range(2):
            child = client.post(
                "/resource_providers",
                json={"name": f"gpu-{i:04d}-{g}", "parent_provider_uuid": root["uuid"]},
            ).json()
            inv = client.put(
                f"/resource_providers/{child['uuid']}/inventories",
                json={"resource_provider_generation": 0, "inventories": {"VGPU": {"total": 4}}},
            ).json()
            client.put(
                f"/resource_providers/{child['uuid']}/traits",
                json={
                    "resource_provider_generation": inv["resource_provider_generation"],
                    "traits": ["CUSTOM_BENCH_GPU"],
                },
            ).raise_for_status()


def _latency(client: httpx.Client, query: str, samples: int) -> dict[str, float]:
    took = []
    for _ in range(samples):
        started = time.perf_counter()
        r = client.get(f"/allocation_candidates?{query}")
        took.append((time.perf_counter() - started) * 1000)
        r.raise_for_status()
    took.sort()
    return {
        "p50": round(statistics.median(took), 2),
        "p99": round(took[min(len(took) - 1, int(0.99 * len(took)))], 2),
    }


def _placements(url: str, clients: int, each: int) -> tuple[float, int]:
    queue: Queue[tuple[int, int]] = SPAWN.Queue()
    procs = [SPAWN.Process(target=place, args=(url, each, seed, queue)) for seed in range(clients)]
    started = time.perf_counter()
    for p in procs:
        p.start()
    done = [queue.get(timeout=1800) for _ in procs]
    for p in procs:
        p.join(60)
    took = time.perf_counter() - started
    return sum(d[0] for d in done) / took, sum(d[1] for d in done)


def place(url: str, count: int, seed: int, queue: Queue[tuple[int, int]]) -> None:
    """One client: ``count`` full placements, each candidates then a claim."""
    rng, placed, conflicts = random.Random(seed), 0, 0
    with httpx.Client(base_url=url, headers=HEADERS, timeout=600) as client:
        while placed < count:
            found = client.get(f"/allocation_candidates?{FLAT}&limit=10").json()[
                "allocation_requests"
            ]
            rng.shuffle(found)
            for candidate in found:
                body = {
                    "allocations": candidate["allocations"],
                    "project_id": "bench",
                    "user_id": "bench",
                    "consumer_generation": None,
                    "consumer_type": "INSTANCE",
                }
                status = client.put(f"/allocations/{uuid.uuid4()}", json=body).status_code
                if status == 204:
                    placed += 1
                    break
                conflicts += 1
    queue.put((placed, conflicts))


def write(results: list[TargetResult], opts: ApiBenchOptions, output: Path | None) -> None:
    if output is not None:
        document = {"command": opts.command(), "results": [asdict(r) for r in results]}
        output.write_text(json.dumps(document, indent=2))


def table(results: list[TargetResult]) -> list[list[str]]:
    """Rows side by side per size: each target's figure and berthing's ratio to Placement."""
    rows = []
    for size in sorted({r.providers for r in results}):
        at = {r.target: r for r in results if r.providers == size}
        b, p = at.get("berthing"), at.get("placement")
        reg_b = b.register_per_s if b else None
        reg_p = p.register_per_s if p else None
        rows.append([f"{size:,}", "registration /s", *_pair(reg_b, reg_p, True)])
        for label in ("limit=10", "limit=1000", "nested"):
            for q in ("p50", "p99"):
                mb = b.latency_ms[label][q] if b else None
                mp = p.latency_ms[label][q] if p else None
                rows.append([f"{size:,}", f"candidates {label} {q} ms", *_pair(mb, mp, False)])
        for c in sorted(b.placements_per_s if b else p.placements_per_s if p else {}):
            rb = b.placements_per_s.get(c) if b else None
            rp = p.placements_per_s.get(c) if p else None
            rows.append([f"{size:,}", f"placements /s, {c} client(s)", *_pair(rb, rp, True)])
    return rows


def _pair(ours: float | None, theirs: float | None, higher_is_better: bool) -> list[str]:
    """Both figures and how many times better berthing is (below 1: worse)."""
    if ours is None or theirs is None or not ours or not theirs:
        return [_fmt(ours), _fmt(theirs), "-"]
    times = ours / theirs if higher_is_better else theirs / ours
    return [_fmt(ours), _fmt(theirs), f"{times:,.1f}x"]


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
