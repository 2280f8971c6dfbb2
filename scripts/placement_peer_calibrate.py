"""Calibrate the later berthing-vs-Placement benchmark: how fast is the real Placement here?

    .venv/bin/python scripts/placement_peer_calibrate.py --providers 1000
    .venv/bin/python scripts/placement_peer_calibrate.py --providers 10000 --samples 50

Starts Placement 16.0 (SQLite, one gunicorn worker: berthing.devtools.placement_peer),
registers N compute-node providers over its HTTP API as Nova's compute service would
(create, inventories VCPU/MEMORY_MB/DISK_GB, two traits, one of ten aggregates: four
requests each, one at a time), then times GET /allocation_candidates with limit=10 and
limit=1000 from one client, one request at a time. Prints, and writes as JSON with
``--out``, the registration rate and the latency percentiles. Not the benchmark itself:
one client, one server process, no berthing.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sqlite3
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from berthing.devtools.placement_peer import PLACEMENT_VERSION, PlacementPeer

HEADERS = {
    "X-Auth-Token": "admin",
    "OpenStack-API-Version": "placement 1.39",
    "Accept": "application/json",
}
AGGREGATES = [str(uuid.UUID(int=0xA66 << 64 | i)) for i in range(10)]
TRAIT_PAIRS = [
    ["COMPUTE_NODE", "HW_CPU_X86_AVX2"],
    ["COMPUTE_NODE", "HW_CPU_X86_SSE42"],
]
INVENTORIES = {
    "VCPU": {"total": 32, "allocation_ratio": 4.0},
    "MEMORY_MB": {"total": 131072, "reserved": 2048},
    "DISK_GB": {"total": 2000},
}
QUERY = "resources=VCPU:2,MEMORY_MB:4096,DISK_GB:20"


class Client:
    """One HTTP/1.1 connection at a time; gunicorn's sync worker closes each after use."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=600)
        headers = dict(HEADERS)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def ok(self, method: str, path: str, body: Any = None) -> bytes:
        status, answer = self.call(method, path, body)
        if status >= 300:
            raise RuntimeError(f"{method} {path} -> {status}: {answer[:300]!r}")
        return answer


def register(client: Client, index: int) -> None:
    """One compute node, as four requests, each at the generation the last one left."""
    rp = str(uuid.UUID(int=0xC0 << 96 | index))
    client.ok("POST", "/resource_providers", {"uuid": rp, "name": f"compute-{index:05d}"})
    base = f"/resource_providers/{rp}"
    client.ok("PUT", f"{base}/inventories", {"resource_provider_generation": 0,
                                             "inventories": INVENTORIES})  # fmt: skip
    traits = TRAIT_PAIRS[index % len(TRAIT_PAIRS)]
    client.ok("PUT", f"{base}/traits", {"resource_provider_generation": 1, "traits": traits})
    aggregate = AGGREGATES[index % len(AGGREGATES)]
    client.ok("PUT", f"{base}/aggregates",
              {"resource_provider_generation": 2, "aggregates": [aggregate]})  # fmt: skip


def register_all(client: Client, count: int) -> dict[str, float]:
    started = time.perf_counter()
    for i in range(count):
        register(client, i)
        if (i + 1) % 1000 == 0:
            print(f"  {i + 1} providers, {time.perf_counter() - started:.0f}s", flush=True)
    seconds = time.perf_counter() - started
    return {"providers": count, "seconds": seconds, "providers_per_s": count / seconds,
            "requests_per_s": 4 * count / seconds}  # fmt: skip


def clone_providers(database: Path, target: int) -> int:
    """Copy the registered providers' rows in SQL until there are ``target`` providers.

    Registering over the API runs at a few providers a second here; a_c reads the same
    rows however they were written. Each copy of a provider gets a new uuid and name and
    the same inventories, traits and aggregate; Placement's own caches hold classes and
    traits only, so it sees the new rows at once. Returns the provider count reached.
    """
    db = sqlite3.connect(database, timeout=60)
    db.create_function("clone_uuid", 2, lambda i, k: str(uuid.UUID(int=(k + 1) << 64 | i)))
    with db:
        originals = db.execute(
            "SELECT count(*) FROM resource_providers WHERE name NOT LIKE '%-c%'"
        ).fetchone()[0]
        current = db.execute("SELECT count(*) FROM resource_providers").fetchone()[0]
        copy = current // originals
        while current < target:
            batch = min(originals, target - current)
            _clone_once(db, copy, batch)
            current, copy = current + batch, copy + 1
    count = int(db.execute("SELECT count(*) FROM resource_providers").fetchone()[0])
    db.close()
    return count


def _clone_once(db: sqlite3.Connection, copy: int, limit: int) -> None:
    suffix = f"-c{copy}"
    db.execute(
        "INSERT INTO resource_providers (created_at, uuid, name, generation) "
        "SELECT created_at, clone_uuid(id, ?), name || ?, generation FROM resource_providers "
        "WHERE name NOT LIKE '%-c%' ORDER BY id LIMIT ?",
        (copy, suffix, limit),
    )
    db.execute("UPDATE resource_providers SET root_provider_id = id WHERE root_provider_id IS NULL")
    pairs = "FROM resource_providers o JOIN resource_providers n ON n.name = o.name || ? "
    db.execute(
        "INSERT INTO inventories (created_at, resource_provider_id, resource_class_id, total, "
        "reserved, min_unit, max_unit, step_size, allocation_ratio) SELECT i.created_at, n.id, "
        "i.resource_class_id, i.total, i.reserved, i.min_unit, i.max_unit, i.step_size, "
        f"i.allocation_ratio {pairs} JOIN inventories i ON i.resource_provider_id = o.id",
        (suffix,),
    )
    db.execute(
        "INSERT INTO resource_provider_traits (created_at, trait_id, resource_provider_id) "
        f"SELECT t.created_at, t.trait_id, n.id {pairs} "
        "JOIN resource_provider_traits t ON t.resource_provider_id = o.id",
        (suffix,),
    )
    db.execute(
        "INSERT INTO resource_provider_aggregates (created_at, resource_provider_id, "
        f"aggregate_id) SELECT a.created_at, n.id, a.aggregate_id {pairs} "
        "JOIN resource_provider_aggregates a ON a.resource_provider_id = o.id",
        (suffix,),
    )


def time_candidates(client: Client, query: str, samples: int, warmup: int) -> dict[str, Any]:
    """Latency of GET /allocation_candidates?query, one request at a time, in ms."""
    path = f"/allocation_candidates?{query}"
    found = len(json.loads(client.ok("GET", path))["allocation_requests"])
    for _ in range(warmup):
        client.ok("GET", path)
    latencies = []
    for _ in range(samples):
        started = time.perf_counter()
        client.ok("GET", path)
        latencies.append((time.perf_counter() - started) * 1000)
    return {"query": query, "candidates": found, "samples": samples, **_percentiles(latencies)}


def _percentiles(ms: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(ms, n=100, method="inclusive")
    return {"p50_ms": cuts[49], "p99_ms": cuts[98], "min_ms": min(ms), "max_ms": max(ms)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--providers", type=int, default=1000, help="registered over the API")
    parser.add_argument(
        "--clone-to", type=int, nargs="*", default=[], help="then copy rows in SQL up to these"
    )
    parser.add_argument("--samples", type=int, default=200, help="timed requests per query")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON")
    args = parser.parse_args(argv)
    with PlacementPeer() as peer:
        client = Client(peer.url)
        print(f"Placement {PLACEMENT_VERSION} at {peer.url}; registering {args.providers}")
        result: dict[str, Any] = {"loadavg_before": _load()}
        result["registration"] = register_all(client, args.providers)
        print(json.dumps(result["registration"]), flush=True)
        result["sizes"] = [measure(client, args.providers, args)]
        for target in args.clone_to:
            assert peer.run_dir is not None
            reached = clone_providers(peer.run_dir / "placement.sqlite", target)
            result["sizes"].append(measure(client, reached, args))
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


def measure(client: Client, providers: int, args: argparse.Namespace) -> dict[str, Any]:
    """a_c latency with limit=10 and limit=1000 at the current number of providers."""
    rows = [
        time_candidates(client, f"{QUERY}&limit={limit}", args.samples, args.warmup)
        for limit in (10, 1000)
    ]
    for row in rows:
        print(json.dumps({"providers": providers, **row}), flush=True)
    return {"providers": providers, "allocation_candidates": rows, "loadavg_after": _load()}


def _load() -> str:
    """The machine's load averages (1, 5, 15 min): this box is shared; say how busy it was."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


if __name__ == "__main__":
    sys.exit(main())
