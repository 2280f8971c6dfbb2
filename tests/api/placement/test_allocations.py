"""What the spec files do not reach on the allocation routes: rules Placement has no
example of in the spec (a type kept by an older client, the reshaper's two kinds of
missing inventory, a rename refused whole), and the conflict mapping for every kind.
``berthing serve`` runs on a SQLite file that the tests also open, to set up and look."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from berthing.api.errors import claim_conflict
from berthing.devtools.server import ServerProcess
from berthing.model import (
    AllocationChange,
    ClaimConflict,
    ConflictKind,
    Consumer,
    ConsumerAllocations,
    Inventory,
)
from berthing.store import Store, open_store

ADMIN = {"x-auth-token": "admin"}
SERVICE = {**ADMIN, "x-roles": "admin,service"}


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    tmp = tmp_path_factory.mktemp("serve")
    url = f"sqlite:///{tmp / 'b.db'}"
    with ServerProcess(url, tmp) as server:
        yield url, server.url


@pytest.fixture
def store(served: tuple[str, str]) -> Iterator[Store]:
    with open_store(served[0]) as s:
        yield s


@pytest.fixture
def client(served: tuple[str, str]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served[1]) as c:
        yield c


def call(
    client: httpx.Client, method: str, url: str, version: str, body: Any = None, **headers: str
) -> Any:
    h = {**ADMIN, "openstack-api-version": f"placement {version}", **headers}
    return client.request(method, url, json=body, headers=h)  # json=None: no body


def host(store: Store, **invs: int) -> str:
    p = store.create_provider(f"h-{uuid.uuid4()}")
    store.set_inventories(p.uuid, 0, {rc: Inventory(n) for rc, n in invs.items()})
    return p.uuid


def claim(rp: str, gen: int | None, ctype: str | None = None, **res: int) -> dict[str, Any]:
    body: dict[str, Any] = {
        "allocations": {rp: {"resources": res}},
        "project_id": "p",
        "user_id": "u",
        "consumer_generation": gen,
    }
    if ctype is not None:
        body["consumer_type"] = ctype
    return body


def test_a_write_before_138_keeps_the_consumer_type(client: httpx.Client, store: Store) -> None:
    rp, c = host(store, VCPU=8), str(uuid.uuid4())
    first = call(client, "PUT", f"/allocations/{c}", "1.38", claim(rp, None, "MIGRATION", VCPU=1))
    assert first.status_code == 204
    gen = call(client, "GET", f"/allocations/{c}", "1.38").json()["consumer_generation"]
    assert (
        call(client, "PUT", f"/allocations/{c}", "1.36", claim(rp, gen, VCPU=2)).status_code == 204
    )
    shown = call(client, "GET", f"/allocations/{c}", "1.38").json()
    assert shown["consumer_type"] == "MIGRATION"
    assert shown["allocations"][rp]["resources"] == {"VCPU": 2}


def test_the_list_form_keeps_the_last_entry_of_a_provider(
    client: httpx.Client, store: Store
) -> None:
    rp, c = host(store, VCPU=8), str(uuid.uuid4())
    item = {"resource_provider": {"uuid": rp}}
    body = {"allocations": [{**item, "resources": {"VCPU": 1}}, {**item, "resources": {"VCPU": 3}}]}
    assert call(client, "PUT", f"/allocations/{c}", "1.0", body).status_code == 204
    shown = call(client, "GET", f"/allocations/{c}", "1.12").json()
    assert shown["allocations"][rp]["resources"] == {"VCPU": 3}
    assert shown["project_id"] == "00000000-0000-0000-0000-000000000000"


def test_one_consumer_named_twice_is_400(client: httpx.Client, store: Store) -> None:
    rp, c = host(store, VCPU=8), str(uuid.uuid4())
    body = {c: claim(rp, None, VCPU=1), c.upper(): claim(rp, None, VCPU=1)}
    answer = call(client, "POST", "/allocations", "1.28", body)
    assert answer.status_code == 400
    assert store.provider_allocations(rp) == {}


def test_a_malformed_consumer_says_which(client: httpx.Client, store: Store) -> None:
    rp, c = host(store, VCPU=8), str(uuid.uuid4())
    body = {c: claim(rp, None, VCPU=0)}
    answer = call(client, "POST", "/allocations", "1.28", body)
    assert answer.status_code == 400
    assert c in answer.json()["errors"][0]["detail"]


def test_usages_of_all_types_without_consumers_is_empty(client: httpx.Client) -> None:
    nobody = uuid.uuid4()
    answer = call(client, "GET", f"/usages?project_id={nobody}&consumer_type=all", "1.38")
    assert answer.json() == {"usages": {}}


def _reshape(rp: str, gen: int, invs: dict[str, Any], allocs: dict[str, Any]) -> dict[str, Any]:
    return {
        "inventories": {rp: {"resource_provider_generation": gen, "inventories": invs}},
        "allocations": allocs,
    }


def test_reshape_allocating_a_class_the_new_inventory_lacks_is_not_inuse(
    client: httpx.Client, store: Store
) -> None:
    rp, c = host(store, VCPU=8), str(uuid.uuid4())
    gen = store.get_provider(rp).generation
    body = _reshape(rp, gen, {"VCPU": {"total": 8}}, {c: claim(rp, None, "INSTANCE", VGPU=1)})
    answer = call(client, "POST", "/reshaper", "1.38", body, **SERVICE)
    assert answer.status_code == 409
    assert answer.json()["errors"][0]["code"] == "placement.undefined_code"


def test_reshape_of_inventory_alone_writes_no_consumer(client: httpx.Client, store: Store) -> None:
    rp = host(store, VCPU=8)
    gen = store.get_provider(rp).generation
    body = _reshape(rp, gen, {"VCPU": {"total": 16}}, {})
    assert call(client, "POST", "/reshaper", "1.30", body, **SERVICE).status_code == 204
    assert store.get_provider_state(rp).inventories["VCPU"].total == 16
    assert store.usages("") == []


def test_reshape_needs_the_service_role(client: httpx.Client, store: Store) -> None:
    rp = host(store, VCPU=8)
    body = _reshape(rp, store.get_provider(rp).generation, {"VCPU": {"total": 16}}, {})
    assert call(client, "POST", "/reshaper", "1.30", body).status_code == 403


def test_renaming_a_class_in_use_is_refused_whole(client: httpx.Client, store: Store) -> None:
    old, new = f"CUSTOM_{uuid.uuid4().hex.upper()}", f"CUSTOM_{uuid.uuid4().hex.upper()}"
    store.ensure_resource_class(old)
    host(store, **{old: 4})
    answer = call(client, "PUT", f"/resource_classes/{old}", "1.6", {"name": new})
    assert answer.status_code == 409
    assert new not in store.list_resource_classes()
    assert old in store.list_resource_classes()


RP, RC = str(uuid.uuid4()), "VGPU"


@pytest.mark.parametrize(
    ("kind", "reshaped", "asked", "status", "code"),
    [
        (ConflictKind.CONSUMER_GENERATION, False, False, 409, "placement.concurrent_update"),
        (ConflictKind.PROVIDER_GENERATION, True, False, 409, "placement.concurrent_update"),
        (ConflictKind.PROVIDER_GONE, False, True, 400, "placement.undefined_code"),
        (ConflictKind.PROVIDER_GONE, True, False, 400, "placement.resource_provider.not_found"),
        (ConflictKind.NO_INVENTORY, False, True, 409, "placement.undefined_code"),
        (ConflictKind.NO_INVENTORY, True, False, 409, "placement.inventory.inuse"),
        (ConflictKind.NO_INVENTORY, True, True, 409, "placement.undefined_code"),
        (ConflictKind.CAPACITY, False, True, 409, "placement.undefined_code"),
    ],
)
def test_each_conflict_kind_has_placements_answer(
    kind: ConflictKind, reshaped: bool, asked: bool, status: int, code: str
) -> None:
    allocations = {RP: {RC: 1}} if asked else {}
    part = ConsumerAllocations(Consumer(str(uuid.uuid4()), "p", "u"), allocations)
    inventories = {RP: {"VCPU": Inventory(8)}} if reshaped else {}
    change = AllocationChange((part,), inventories=inventories)
    error = claim_conflict(ClaimConflict(kind, RP, RC, "why"), change)
    assert (error.status, error.code) == (status, code)
    if kind is ConflictKind.CONSUMER_GENERATION:
        assert "consumer generation conflict" in error.detail  # Nova matches these words
