"""A Placement client process that races others: new consumers on a few hosts (capacity
races) and updates of shared consumers under their generations (generation races)."""

from __future__ import annotations

import json
import random
import uuid
from pathlib import Path

import httpx

HEADERS = {"x-auth-token": "admin", "openstack-api-version": "placement 1.38"}


def _body(host: str, vcpu: int, generation: int | None) -> dict[str, object]:
    return {
        "allocations": {host: {"resources": {"VCPU": vcpu}}},
        "project_id": "p",
        "user_id": "u",
        "consumer_generation": generation,
        "consumer_type": "INSTANCE",
    }


def race(url: str, hosts: list[str], shared: list[str], rounds: int, seed: int, out: str) -> None:
    rng = random.Random(seed)
    created: dict[str, dict[str, int]] = {}
    acked: list[tuple[str, str, int]] = []  # (shared consumer, host, vcpu) written with 204
    statuses: dict[str, int] = {}
    with httpx.Client(base_url=url, headers=HEADERS, timeout=30) as client:
        for _ in range(rounds):
            consumer, host, vcpu = str(uuid.uuid4()), rng.choice(hosts), rng.randint(1, 3)
            r = client.put(f"/allocations/{consumer}", json=_body(host, vcpu, None))
            _count(statuses, r)
            if r.status_code == 204:
                created[consumer] = {host: vcpu}
            target = rng.choice(shared)
            generation = client.get(f"/allocations/{target}").json().get("consumer_generation")
            host, vcpu = rng.choice(hosts), rng.randint(1, 2)
            r = client.put(f"/allocations/{target}", json=_body(host, vcpu, generation))
            _count(statuses, r)
            if r.status_code == 204:
                acked.append((target, host, vcpu))
    Path(out).write_text(json.dumps({"created": created, "acked": acked, "statuses": statuses}))


def _count(statuses: dict[str, int], r: httpx.Response) -> None:
    key = str(r.status_code)
    if r.status_code == 409:
        key += " " + r.json()["errors"][0].get("code", "")
    elif r.status_code >= 500 or r.status_code in (400, 404):
        raise AssertionError(f"unexpected {r.status_code}: {r.text}")
    statuses[key] = statuses.get(key, 0) + 1
