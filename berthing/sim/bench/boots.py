"""``berthing bench boots``: servers booted through the native API, boot to ACTIVE on
simulated hosts, per second; and the same number of placements made by calling the
scheduler in process, in the same run, so that the API's overhead is a ratio.

The API side is what an operator's tooling does: ``berthing serve --simulate-hosts N``
(its cell's conductors and a simulated fleet), N client processes each booting one
server through ``/v1`` and polling it until it is ACTIVE, then the next. A boot there
is the HTTP call, the build request written to the store, a conductor taking it and
scheduling it (the same ``Scheduler``), the claim, the simulated host building it, the
conductor marking it ACTIVE, and the client seeing that.

The in-process side is ``Scheduler.select_destinations`` alone, in as many processes
as there were clients, on an equal store (the same simulated cloud, same seed, in a
SQLite file of its own). The server is stopped before it runs, so that its idle loops
take nothing from it. What the ratio measures is everything a boot costs besides
finding and claiming a host.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from berthing.model import BerthingError, RequestSpec
from berthing.sim.bench.clients import Burst, Tally, run_clients
from berthing.sim.bench.machine import machine_facts

__all__ = ["BootBenchOptions", "BootsRow", "run_boots_bench", "table", "write"]

#: ``noauth2``, serve's default on loopback: the development token is an admin.
HEADERS = {"x-auth-token": "admin", "accept": "application/json"}
#: What every boot asks for: an m1.small-like flavor that fits every compute shape.
FLAVOR = {"VCPU": 1, "MEMORY_MB": 2048, "DISK_GB": 20}
#: A boot that is not ACTIVE (or ERROR) after this long is the benchmark's failure.
BOOT_TIMEOUT = 120.0
#: Starting the server includes registering the simulated fleet.
START_TIMEOUT = 600.0


@dataclass(frozen=True, slots=True)
class BootBenchOptions:
    hosts: int = 1_000
    clients: tuple[int, ...] = (1, 4)
    boots: int = 100
    """Timed boots per client (and as many placements per in-process client)."""
    conductors: int = 1
    """Conductor processes of the served cell (``berthing serve``'s default)."""
    poll: float = 0.02
    """Seconds between a client's looks at its server while it boots."""
    workdir: Path = Path("/tmp/berthing-bench-boots")

    def command(self) -> str:
        clients = ",".join(str(c) for c in self.clients)
        return (
            f"berthing bench boots --hosts {self.hosts} --clients {clients} "
            f"--boots {self.boots} --conductors {self.conductors} --poll {self.poll:g}"
        )


@dataclass
class BootsRow:
    """One client count: the API's boots and the scheduler's placements side by side."""

    clients: int
    boots: int
    api_per_s: float
    api_ms: dict[str, float]
    failed: int
    """Boots that ended in ERROR (counted out of the rate)."""
    in_process_per_s: float
    in_process_ms: dict[str, float]
    no_valid_host: int
    in_process_conflicts: int
    """Claims the in-process schedulers lost to each other (each one retried)."""
    overhead: float
    """In-process placements/s over API boots/s: how many times slower a boot is."""
    load: list[float] = field(default_factory=list)


def run_boots_bench(opts: BootBenchOptions, say: Callable[[str], None] = print) -> list[BootsRow]:
    """The API bursts first (one server for all), then the in-process ones."""
    opts.workdir.mkdir(parents=True, exist_ok=True)
    api: dict[int, tuple[Burst, float]] = {}
    with _serve(opts) as url:
        say(f"berthing serve with {opts.hosts} simulated hosts on {url}")
        for clients in opts.clients:
            api[clients] = _timed(_api_burst(url, opts, clients), say, "boots")
    store_url = _equal_store(opts, say)
    rows = []
    for clients in opts.clients:
        local = _timed(_in_process_burst(store_url, opts, clients), say, "placements in process")
        rows.append(_row(clients, *api[clients], *local))
    return rows


def _api_burst(url: str, opts: BootBenchOptions, clients: int) -> Callable[[], Burst]:
    return functools.partial(
        run_clients, functools.partial(boot_client, url, opts.boots, opts.poll), clients
    )


def _in_process_burst(store_url: str, opts: BootBenchOptions, clients: int) -> Callable[[], Burst]:
    return functools.partial(
        run_clients, functools.partial(schedule_client, store_url, opts.boots), clients
    )


def _timed(
    burst: Callable[[], Burst], say: Callable[[str], None], what: str
) -> tuple[Burst, float]:
    """The burst and the 1-minute load average when it started."""
    load = os.getloadavg()[0]
    result = burst()
    say(
        f"  {result.clients} client(s): {result.per_s:.1f} {what}/s, p50 {result.p(50)} ms, "
        f"{result.misses} missed, load {load:.2f}"
    )
    return result, load


def _row(clients: int, api: Burst, api_load: float, local: Burst, local_load: float) -> BootsRow:
    return BootsRow(
        clients=clients,
        boots=api.done,
        api_per_s=round(api.per_s, 2),
        api_ms={"p50": api.p(50), "p99": api.p(99)},
        failed=api.misses,
        in_process_per_s=round(local.per_s, 2),
        in_process_ms={"p50": local.p(50), "p99": local.p(99)},
        no_valid_host=local.misses,
        in_process_conflicts=local.counters.get("conflicts", 0),
        overhead=round(local.per_s / api.per_s, 1) if api.per_s else 0.0,
        load=[api_load, local_load],
    )


@contextlib.contextmanager
def _serve(opts: BootBenchOptions) -> Iterator[str]:
    from berthing.devtools.server import ServerProcess

    db = _fresh(opts.workdir / "serve.db")
    extra = ("--simulate-hosts", str(opts.hosts), "--conductors", str(opts.conductors))
    with ServerProcess(
        f"sqlite:///{db}", opts.workdir, *extra, start_timeout=START_TIMEOUT
    ) as server:
        _ready(server.url)
        yield server.url


def _ready(url: str) -> None:
    """A cell whose conductor died would leave every boot PENDING: say so at once."""
    answer = httpx.get(f"{url}/readyz", timeout=30)
    if answer.status_code != 200:
        raise BerthingError(f"berthing serve at {url} is not ready: {answer.text[:500]}")


def _equal_store(opts: BootBenchOptions, say: Callable[[str], None]) -> str:
    """The cloud ``serve --simulate-hosts`` builds (``build_cloud``, seed 1), in a file
    of its own."""
    from berthing.sim.cloud import build_cloud
    from berthing.store import open_store

    url = f"sqlite:///{_fresh(opts.workdir / 'in-process.db')}"
    with open_store(url) as store:
        build_cloud(store, opts.hosts, seed=1)
    say(f"the same {opts.hosts} hosts in {url}, for the scheduler in process")
    return url


def _fresh(db: Path) -> Path:
    """``db`` with no file left from an earlier run (a stale WAL would be replayed)."""
    for suffix in ("", "-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)
    return db


def boot_client(url: str, count: int, poll: float, index: int, go: Callable[[], float]) -> Tally:
    """One operator's tool: boot, wait for ACTIVE, boot the next."""
    tally = Tally()
    with httpx.Client(base_url=url, headers=HEADERS, timeout=BOOT_TIMEOUT) as client:
        _boot(client, f"warm-{index}", poll)  # connect, and the first boot, off the clock
        tally.started = go()
        for i in range(count):
            started = time.perf_counter()
            if _boot(client, f"bench-{index}-{i}", poll) == "ACTIVE":
                tally.done += 1
                tally.latencies.append(time.perf_counter() - started)
            else:
                tally.misses += 1
    tally.finished = time.time()
    return tally


def _boot(client: httpx.Client, name: str, poll: float) -> str:
    """Boot one server and return its final state (ACTIVE or ERROR): the calls of
    ``berthing server boot --wait``, polled more often."""
    [uuid] = _ok(client.post("/v1/servers", json={"resources": FLAVOR, "name": name}))["servers"]
    deadline = time.monotonic() + BOOT_TIMEOUT
    state = "?"
    while time.monotonic() < deadline:
        state = _ok(client.get(f"/v1/servers/{uuid}"))["state"]
        if state in ("ACTIVE", "ERROR"):
            return str(state)
        time.sleep(poll)
    raise BerthingError(f"server {uuid} is still {state} after {BOOT_TIMEOUT:.0f}s.")


def _ok(response: httpx.Response) -> dict[str, Any]:
    if response.is_error:
        raise BerthingError(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}: {response.text[:500]}"
        )
    body: dict[str, Any] = response.json()
    return body


def schedule_client(store_url: str, count: int, index: int, go: Callable[[], float]) -> Tally:
    """The same number of placements, by calling the scheduler in this process."""
    from berthing.scheduler import NoValidHost, Scheduler, SchedulerMetrics, load_config
    from berthing.store import open_store

    tally = Tally()
    with open_store(store_url) as store:
        scheduler = Scheduler(store, load_config(None), rng=random.Random(index))
        scheduler.select_destinations(RequestSpec(FLAVOR))  # warm-up, off the clock
        scheduler.metrics = SchedulerMetrics()
        tally.started = go()
        for _ in range(count):
            started = time.perf_counter()
            try:
                scheduler.select_destinations(RequestSpec(FLAVOR))
            except NoValidHost:
                tally.misses += 1
                continue
            tally.done += 1
            tally.latencies.append(time.perf_counter() - started)
    tally.finished = time.time()
    counted = scheduler.metrics
    tally.counters = {"conflicts": counted.conflicts, "retries": counted.retries}
    return tally


def write(rows: list[BootsRow], opts: BootBenchOptions, output: Path | None) -> None:
    if output is not None:
        document = {
            "command": opts.command(),
            "machine": machine_facts(),
            "rows": [asdict(r) for r in rows],
        }
        output.write_text(json.dumps(document, indent=2))


COLUMNS = (
    "clients",
    "boots",
    "API boots/s",
    "API p50 ms",
    "API p99 ms",
    "in-process placements/s",
    "in-process p50 ms",
    "in-process p99 ms",
    "in-process conflicts",
    "API overhead",
    "load (API, in-process)",
)


def table(rows: list[BootsRow]) -> list[list[str]]:
    """One line per client count, in ``COLUMNS``' order."""
    return [
        [
            str(r.clients),
            f"{r.boots}" + (f" ({r.failed} failed)" if r.failed else ""),
            f"{r.api_per_s:,.1f}",
            f"{r.api_ms['p50']:,.1f}",
            f"{r.api_ms['p99']:,.1f}",
            f"{r.in_process_per_s:,.1f}",
            f"{r.in_process_ms['p50']:,.2f}",
            f"{r.in_process_ms['p99']:,.2f}",
            str(r.in_process_conflicts),
            f"{r.overhead:,.1f}x",
            ", ".join(f"{x:.2f}" for x in r.load),
        ]
        for r in rows
    ]
