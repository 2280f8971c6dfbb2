"""``berthing bench api``: berthing serve against the real OpenStack Placement, side by
side in one run, over the same HTTP calls.

Per fleet size, both targets run at once (``berthing serve`` on its embedded SQLite
store; Placement 16.0 under gunicorn with SQLite and one worker, installed on demand by
``berthing.devtools.placement_peer``): register the fleet as Nova's compute services
would (create, inventories, traits, an aggregate: four calls per provider, plus a few
nested trees); time ``GET /allocation_candidates`` with limit=10, limit=1000 and a
nested/granular query; run full placements (candidates, then ``PUT /allocations`` of
one of them, a 409 moving on to the next) with 1 and 4 client processes.

Registration and the timed queries alternate between the targets call by call, so
that both see the same machine: on a shared VM the load moves tenfold within minutes,
and figures taken half an hour apart would compare the neighbours, not the servers.
Each target's figure counts only the time spent in its own calls. Placement runs
(N client processes) cannot alternate; they run back to back, berthing's first. Ratios
are berthing's over Placement's.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from berthing.model import BerthingError
from berthing.sim.bench.clients import Burst, Tally, run_clients
from berthing.sim.bench.machine import machine_facts
from berthing.sim.bench.results import percentile

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
#: Say how far registration got every this many providers (10k on Placement takes long).
PROGRESS_EVERY = 1000


@dataclass(frozen=True, slots=True)
class ApiBenchOptions:
    sizes: tuple[int, ...] = (1_000, 10_000)
    clients: tuple[int, ...] = (1, 4)
    samples: int = 100
    """Timed calls per candidate query, at most (see ``seconds``)."""
    placements: int = 200
    """Placements per client in the full-placement runs, at most (see ``seconds``)."""
    seconds: float = 300.0
    """What one query's samples or one placement run may take: Placement at 10k
    providers answers in seconds, and its figures need no hour each. The report says
    how many samples and placements each figure is of."""
    nested_trees: int = 50
    peer: bool = True
    workdir: Path = Path("/tmp/berthing-bench-api")

    def command(self) -> str:
        sizes = ",".join(str(s) for s in self.sizes)
        clients = ",".join(str(c) for c in self.clients)
        peer = "" if self.peer else " --no-peer"
        return (
            f"berthing bench api --sizes {sizes} --clients {clients} --samples {self.samples} "
            f"--placements {self.placements} --seconds {self.seconds:g}{peer}"
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
    placement_ms: dict[int, dict[str, float]] = field(default_factory=dict)
    """clients -> {p50, p99} of one full placement (candidates, claim, retries)."""
    placed: dict[int, int] = field(default_factory=dict)
    """clients -> placements the rate is of."""
    conflicts: dict[int, int] = field(default_factory=dict)
    register_s: float = 0.0
    load: list[float] = field(default_factory=list)
    """The 1-minute load average when this target's measurement started and ended."""


def run_api_bench(
    opts: ApiBenchOptions, say: Callable[[str], None] = print, output: Path | None = None
) -> list[TargetResult]:
    """Every size, all targets at once; ``output`` is rewritten after each size, so
    that hours of Placement are not lost to a failure in the last step."""
    results: list[TargetResult] = []
    for size in opts.sizes:
        with contextlib.ExitStack() as running:
            urls = {name: running.enter_context(target) for name, target in _targets(opts, size)}
            say(f"{size} providers: " + ", ".join(f"{n} on {u}" for n, u in urls.items()))
            results += _measure(urls, size, opts, say)
        write(results, opts, output)
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
    # The peer keeps a given run directory's database (db sync is idempotent): a
    # second run would find the last run's fleet and fail on its names.
    (where / "placement.sqlite").unlink(missing_ok=True)
    with PlacementPeer(database="sqlite", workers=1, run_dir=where) as peer:
        yield peer.url


QUERIES = (
    ("limit=10", f"{FLAT}&limit=10"),
    ("limit=1000", f"{FLAT}&limit=1000"),
    ("nested", f"{NESTED}&limit=10"),
)


def _measure(
    urls: dict[str, str], size: int, opts: ApiBenchOptions, say: Callable[[str], None]
) -> list[TargetResult]:
    results = {n: TargetResult(n, size, load=[os.getloadavg()[0]]) for n in urls}
    with contextlib.ExitStack() as open_clients:
        clients = {
            n: open_clients.enter_context(httpx.Client(base_url=u, headers=HEADERS, timeout=600))
            for n, u in urls.items()
        }
        spent = _register(clients, size, say)
        for n, seconds in spent.items():
            results[n].register_s = round(seconds, 1)
            results[n].register_per_s = size / seconds
        for client in clients.values():
            _nested(client, opts.nested_trees)
        for label, query in QUERIES:
            for n, figures in _latencies(clients, query, opts.samples, opts.seconds).items():
                results[n].latency_ms[label] = figures
                say(f"  {n} {label}: {figures}")
    for count in opts.clients:
        for n, url in urls.items():
            _place_burst(results[n], url, count, opts)
            say(f"  {n} {count} client(s): {results[n].placements_per_s[count]} placements/s")
    for r in results.values():
        r.load.append(os.getloadavg()[0])
    return list(results.values())


def _place_burst(result: TargetResult, url: str, clients: int, opts: ApiBenchOptions) -> None:
    burst = _placements(url, clients, opts.placements, opts.seconds)
    result.placements_per_s[clients] = round(burst.per_s, 2)
    result.placed[clients] = burst.done
    result.placement_ms[clients] = {"p50": burst.p(50), "p99": burst.p(99)}
    result.conflicts[clients] = burst.misses


def _register(
    clients: dict[str, httpx.Client], size: int, say: Callable[[str], None]
) -> dict[str, float]:
    """The fleet, as Nova's compute services register it (create, inventories, traits,
    aggregates: one call each per provider), one provider on each target in turn;
    returns each target's seconds in its own calls."""
    spent = dict.fromkeys(clients, 0.0)
    for client in clients.values():
        _ok(client.put("/traits/CUSTOM_BENCH_GPU"))
    for i in range(size):
        if i and i % PROGRESS_EVERY == 0:
            say(f"  registered {i}: " + ", ".join(f"{n} {i / t:.1f}/s" for n, t in spent.items()))
        traits = ["COMPUTE_NODE", "HW_CPU_X86_AVX2" if i % 2 else "HW_CPU_X86_SSE42"]
        for n, client in clients.items():
            started = time.perf_counter()
            _provider(
                client, f"cn-{i:06d}", INVENTORIES, traits=traits, aggregates=[AGGREGATES[i % 10]]
            )
            spent[n] += time.perf_counter() - started
    say(f"  registered {size}: " + ", ".join(f"{n} in {t:.0f}s" for n, t in spent.items()))
    return spent


def _nested(client: httpx.Client, trees: int) -> None:
    """Compute nodes with two GPU children each: the nested/granular query's answers."""
    for i in range(trees):
        root = _provider(client, f"gpu-cn-{i:04d}", {"VCPU": {"total": 16}})
        for g in range(2):
            gpu = {"VGPU": {"total": 4}}
            traits = ["CUSTOM_BENCH_GPU"]
            _provider(client, f"gpu-{i:04d}-{g}", gpu, traits=traits, parent=root)


def _provider(
    client: httpx.Client,
    name: str,
    inventories: dict[str, Any],
    *,
    traits: list[str] | None = None,
    aggregates: list[str] | None = None,
    parent: str | None = None,
) -> str:
    """Create a provider and set what is given, each write on the last generation."""
    body: dict[str, Any] = {"name": name}
    if parent is not None:
        body["parent_provider_uuid"] = parent
    rp = _ok(client.post("/resource_providers", json=body))["uuid"]
    at = f"/resource_providers/{rp}"
    gen = _ok(
        client.put(
            f"{at}/inventories",
            json={"resource_provider_generation": 0, "inventories": inventories},
        )
    )["resource_provider_generation"]
    if traits is not None:
        body = {"resource_provider_generation": gen, "traits": traits}
        gen = _ok(client.put(f"{at}/traits", json=body))["resource_provider_generation"]
    if aggregates is not None:
        body = {"resource_provider_generation": gen, "aggregates": aggregates}
        _ok(client.put(f"{at}/aggregates", json=body))
    return str(rp)


def _ok(response: httpx.Response) -> dict[str, Any]:
    """The answer's JSON body; an error answer is raised with its own words."""
    if response.is_error:
        raise BerthingError(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}: {response.text[:500]}"
        )
    body: dict[str, Any] = response.json() if response.content else {}
    return body


def _latencies(
    clients: dict[str, httpx.Client], query: str, samples: int, seconds: float
) -> dict[str, dict[str, float]]:
    """Per target: p50 and p99 of up to ``samples`` calls (as many as ``seconds`` of its
    own calls allow), the targets taking turns, after one untimed call each; how many
    samples, and how many candidates came back (a fast empty answer is no result)."""
    found = {n: len(_answer(c, query)) for n, c in clients.items()}
    took: dict[str, list[float]] = {n: [] for n in clients}

    def wanted(n: str) -> bool:
        return len(took[n]) < samples and (not took[n] or sum(took[n]) < seconds * 1000)

    while any(wanted(n) for n in clients):
        for n in filter(wanted, clients):
            started = time.perf_counter()
            _answer(clients[n], query)
            took[n].append((time.perf_counter() - started) * 1000)
    return {
        n: {
            "p50": round(percentile(took[n], 50), 2),
            "p99": round(percentile(took[n], 99), 2),
            "candidates": found[n],
            "samples": len(took[n]),
        }
        for n in clients
    }


def _answer(client: httpx.Client, query: str) -> list[Any]:
    found: list[Any] = _ok(client.get(f"/allocation_candidates?{query}"))["allocation_requests"]
    if not found:
        raise BerthingError(f"{client.base_url} has no candidates for {query}.")
    return found


def _placements(url: str, clients: int, each: int, seconds: float) -> Burst:
    return run_clients(functools.partial(place, url, each, seconds), clients)


def place(url: str, count: int, seconds: float, index: int, go: Callable[[], float]) -> Tally:
    """One client: up to ``count`` full placements (as many as ``seconds`` allow), each
    candidates then a claim of one of them (a 409, a lost race, moves on to the next)."""
    rng, tally = random.Random(index), Tally()
    with httpx.Client(base_url=url, headers=HEADERS, timeout=600) as client:
        _answer(client, f"{FLAT}&limit=10")  # connect and warm up outside the clock
        tally.started = go()
        deadline = tally.started + seconds
        while tally.done < count and (not tally.done or time.time() < deadline):
            started = time.perf_counter()
            found = _answer(client, f"{FLAT}&limit=10")
            rng.shuffle(found)
            for candidate in found:
                if _claim(client, candidate["allocations"]):
                    tally.done += 1
                    tally.latencies.append(time.perf_counter() - started)
                    break
                tally.misses += 1
    tally.finished = time.time()
    return tally


def _claim(client: httpx.Client, allocations: dict[str, Any]) -> bool:
    """PUT the allocations for a new consumer: True if claimed, False on a lost race."""
    body = {
        "allocations": allocations,
        "project_id": "bench",
        "user_id": "bench",
        "consumer_generation": None,
        "consumer_type": "INSTANCE",
    }
    response = client.put(f"/allocations/{uuid.uuid4()}", json=body)
    if response.status_code == 409:
        return False
    response.raise_for_status()  # anything else is the benchmark's bug, not a race
    return True


def write(results: list[TargetResult], opts: ApiBenchOptions, output: Path | None) -> None:
    if output is not None:
        document = {
            "command": opts.command(),
            "machine": machine_facts(),
            "results": [asdict(r) for r in results],
        }
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
