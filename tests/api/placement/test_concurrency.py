"""Four client processes PUT allocations through the API at once, on a real server over
each shared backend: capacity is never exceeded, every 204 is there afterwards, a write
on a stale consumer generation is a 409 ``placement.concurrent_update``, and each shared
consumer's generation counts exactly the writes that were acknowledged."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import httpx
import pytest

from berthing.devtools.server import ServerProcess
from berthing.store import open_store
from berthing.store.audit import audit
from tests.api.placement.allocation_worker import HEADERS, race
from tests.backends import SHARED, Backend
from tests.procs import join_ok, start

HOSTS, VCPU, WORKERS, ROUNDS = 4, 12, 4, 25


def _setup(client: httpx.Client) -> tuple[list[str], list[str]]:
    hosts = []
    for i in range(HOSTS):
        p = client.post("/resource_providers", json={"name": f"race-{i}"}).json()
        inv = {
            "resource_provider_generation": p["generation"],
            "inventories": {"VCPU": {"total": VCPU}},
        }
        client.put(f"/resource_providers/{p['uuid']}/inventories", json=inv).raise_for_status()
        hosts.append(p["uuid"])
    shared = []
    for i in range(3):
        consumer = f"00000000-0000-4000-8000-00000000000{i}"
        body = {
            "allocations": {hosts[i]: {"resources": {"VCPU": 1}}},
            "project_id": "p",
            "user_id": "u",
            "consumer_generation": None,
            "consumer_type": "INSTANCE",
        }
        client.put(f"/allocations/{consumer}", json=body).raise_for_status()
        shared.append(consumer)
    return hosts, shared


@pytest.mark.slow
@pytest.mark.parametrize("backend", SHARED, ids=[b.name for b in SHARED])
def test_four_clients_race_through_the_api(
    backend: Backend, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    with backend.url(tmp_path, request) as url, ServerProcess(url, tmp_path) as server:
        with httpx.Client(
            base_url=server.url, headers={**HEADERS, "openstack-api-version": "placement 1.39"}
        ) as client:
            hosts, shared = _setup(client)
            outs = [str(tmp_path / f"w{i}.json") for i in range(WORKERS)]
            join_ok(
                start(
                    race, [(server.url, hosts, shared, ROUNDS, i, outs[i]) for i in range(WORKERS)]
                )
            )
            results = [json.loads(Path(o).read_text()) for o in outs]
            statuses: Counter[str] = Counter()
            for r in results:
                statuses.update(r["statuses"])
            print(f"\n{backend.name}: {dict(statuses)}")
            assert statuses["409 placement.concurrent_update"] > 0  # the races happened
            for r in results:  # every acknowledged new consumer is there, as written
                for consumer, allocs in r["created"].items():
                    got = client.get(f"/allocations/{consumer}").json()["allocations"]
                    assert {h: a["resources"]["VCPU"] for h, a in got.items()} == allocs
            acked = Counter(c for r in results for c, _, _ in r["acked"])
            for consumer in shared:  # no lost update: one generation step per 204
                assert (
                    client.get(f"/allocations/{consumer}").json()["consumer_generation"]
                    == 1 + acked[consumer]  # 1: its first write, in _setup
                )
        with open_store(url) as store:
            assert audit(store) == []
