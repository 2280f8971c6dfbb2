"""The native API in process: every route, who may call it, and what bad input gets."""

from __future__ import annotations

import re
from typing import TypeVar

import httpx
import msgspec
import pytest

from berthing.api.native import ROUTES
from berthing.api.native.core import Role
from berthing.api.native.schemas import (
    BootAccepted,
    Explanation,
    GroupView,
    HostList,
    HostView,
    ServerList,
    ServerView,
    ZoneList,
)
from berthing.model import BuildRequest, ProviderQuery
from berthing.service import ServeConfig
from tests.api.native.conftest import (
    ADMIN,
    HOSTS,
    MEMBER_A,
    MEMBER_B,
    NO_ROLE,
    READER_A,
    Cell,
    _cell,
)

pytestmark = pytest.mark.anyio
T = TypeVar("T")

FLAVOR = {"VCPU": 2, "MEMORY_MB": 2048}
OPERATIONS = [(m, r.path, op.role) for r in ROUTES for m, op in r.methods.items()]
IDS = [f"{m} {p}" for m, p, _ in OPERATIONS]
BELOW = {Role.READER: NO_ROLE, Role.MEMBER: READER_A, Role.ADMIN: MEMBER_A}


def _path(template: str) -> str:
    return re.sub(r"\{\w+\}", "00000000-0000-0000-0000-000000000000", template)


def _as(response: httpx.Response, kind: type[T]) -> T:
    assert response.status_code < 300, response.text
    return msgspec.json.decode(response.content, type=kind)


def _detail(response: httpx.Response) -> str:
    return str(response.json()["errors"][0]["detail"])


async def _boot(api: httpx.AsyncClient, who: dict[str, str], **body: object) -> BootAccepted:
    response = await api.post("/v1/servers", json={"resources": FLAVOR, **body}, headers=who)
    assert response.status_code == 202, response.text
    return _as(response, BootAccepted)


async def _server(api: httpx.AsyncClient, uuid: str) -> ServerView:
    response = await api.get(f"/v1/servers/{uuid}", headers=ADMIN)
    assert response.status_code == 200, response.text
    return _as(response, ServerView)


def _settled(cell: Cell, accepted: BootAccepted) -> None:
    def done() -> bool:
        rec = cell.store.get_record(BuildRequest, accepted.request)
        return rec is not None and rec.value.state.terminal

    cell.settle(done)


# -- who may call what ---------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "role"), OPERATIONS, ids=IDS)
async def test_every_route_needs_a_token(
    api: httpx.AsyncClient, method: str, path: str, role: Role
) -> None:
    response = await api.request(method, _path(path), json={})
    assert response.status_code == 401
    assert response.json()["title"] == "Unauthorized"


@pytest.mark.parametrize(("method", "path", "role"), OPERATIONS, ids=IDS)
async def test_a_role_below_the_operations_is_refused(
    api: httpx.AsyncClient, method: str, path: str, role: Role
) -> None:
    response = await api.request(method, _path(path), json={}, headers=BELOW[role])
    assert response.status_code == 403
    assert _detail(response) == f"This needs the {role.name.lower()} role."
    assert response.json()["errors"][0]["code"] == "berthing.forbidden"


async def test_configured_tokens_have_their_roles_and_nothing_else(cell: Cell) -> None:
    config = msgspec.convert(
        {
            "auth": {
                "mode": "tokens",
                "tokens": {"ops": {"secret": "s3cret", "roles": ["reader"], "project": "p"}},
            }
        },
        ServeConfig,
    )
    app = _cell(cell.store, config).app
    async with httpx.AsyncClient(transport=app, base_url="http://berthing") as api:
        assert (await api.get("/v1/hosts", headers={"x-auth-token": "s3cret"})).status_code == 200
        for token in ("admin", "s3cre", "ops"):
            response = await api.get("/v1/hosts", headers={"x-auth-token": token})
            assert response.status_code == 401, token
        body = {"resources": FLAVOR}
        refused = await api.post("/v1/servers", json=body, headers={"x-auth-token": "s3cret"})
        assert refused.status_code == 403


async def test_a_project_sees_and_changes_only_its_own_servers(
    any_api: httpx.AsyncClient, any_cell: Cell
) -> None:
    api = any_api
    accepted = await _boot(api, MEMBER_A)
    _settled(any_cell, accepted)
    [uuid] = accepted.servers
    for method, path, body in (
        ("GET", f"/v1/servers/{uuid}", None),
        ("DELETE", f"/v1/servers/{uuid}", None),
        ("POST", f"/v1/servers/{uuid}/resize", {"resources": {"VCPU": 1, "MEMORY_MB": 512}}),
    ):
        response = await api.request(method, path, json=body, headers=MEMBER_B)
        assert response.status_code == 404, f"{method} {path}"
        assert _detail(response) == f"No server {uuid}."
    listed = await api.get("/v1/servers", headers=MEMBER_B)
    assert listed.json()["servers"] == []
    for who in (MEMBER_A, READER_A, ADMIN):
        seen = msgspec.json.decode((await api.get("/v1/servers", headers=who)).content)
        assert [s["uuid"] for s in seen["servers"]] == [uuid]
    as_b = await api.get("/v1/servers", params={"project_id": "proj-a"}, headers=MEMBER_B)
    assert as_b.json()["servers"] == []  # only administrators filter by another project
    assert (await api.delete(f"/v1/servers/{uuid}", headers=READER_A)).status_code == 403
    assert (await _server(api, uuid)).state == "ACTIVE"


async def test_only_an_administrator_boots_for_another_project(api: httpx.AsyncClient) -> None:
    body = {"resources": FLAVOR, "project_id": "proj-b"}
    refused = await api.post("/v1/servers", json=body, headers=MEMBER_A)
    assert refused.status_code == 403
    assert "Only an administrator" in _detail(refused)
    accepted = await _boot(api, ADMIN, project_id="proj-b")
    assert (await _server(api, accepted.servers[0])).project_id == "proj-b"


# -- servers -------------------------------------------------------------------------------


async def test_a_server_from_boot_to_delete(any_api: httpx.AsyncClient, any_cell: Cell) -> None:
    api = any_api
    accepted = await _boot(api, MEMBER_A, name="web")
    assert accepted.request.startswith("cell1/")
    [uuid] = accepted.servers
    assert (await _server(api, uuid)).state in ("PENDING", "SCHEDULING")
    _settled(any_cell, accepted)
    view = await _server(api, uuid)
    assert (view.name, view.state, view.project_id, view.user_id) == (
        "web",
        "ACTIVE",
        "proj-a",
        "alice",
    )
    assert view.host is not None and view.allocations == {view.host: FLAVOR}
    assert [e.what for e in view.events] == ["scheduled", "active"]
    on_host = await api.get("/v1/servers", params={"host": view.host_name}, headers=ADMIN)
    assert [s["uuid"] for s in on_host.json()["servers"]] == [uuid]
    resized = await api.post(
        f"/v1/servers/{uuid}/resize",
        json={"resources": {"VCPU": 4, "MEMORY_MB": 2048}},
        headers=MEMBER_A,
    )
    assert resized.status_code == 200 and resized.json()["uuid"] == uuid
    after = await _server(api, uuid)
    assert sum(per.get("VCPU", 0) for per in after.allocations.values()) == 4
    assert (await api.delete(f"/v1/servers/{uuid}", headers=MEMBER_A)).status_code == 202
    any_cell.settle(lambda: not any_cell.store.provider_allocations(view.host or ""))
    assert (await _server(api, uuid)).state == "DELETED"
    listed = await api.get("/v1/servers", headers=ADMIN)
    assert listed.json()["servers"] == []  # deleted servers show only when asked for
    deleted = await api.get("/v1/servers", params={"state": "deleted"}, headers=ADMIN)
    assert [s["uuid"] for s in deleted.json()["servers"]] == [uuid]


async def test_a_server_still_being_scheduled_cannot_be_deleted(api: httpx.AsyncClient) -> None:
    accepted = await _boot(api, MEMBER_A)
    response = await api.delete(f"/v1/servers/{accepted.servers[0]}", headers=MEMBER_A)
    assert response.status_code == 409
    assert "still being scheduled" in _detail(response)


async def test_a_server_that_fits_nowhere_says_why(api: httpx.AsyncClient, cell: Cell) -> None:
    accepted = await _boot(api, MEMBER_A, resources={"VCPU": 64})
    _settled(cell, accepted)
    view = await _server(api, accepted.servers[0])
    assert view.state == "ERROR"
    assert "VCPU" in view.error


async def test_servers_come_in_pages(api: httpx.AsyncClient) -> None:
    accepted = await _boot(api, MEMBER_A, count=3)
    first = _as(await api.get("/v1/servers", params={"limit": 2}, headers=ADMIN), ServerList)
    assert len(first.servers) == 2 and first.next_marker == first.servers[-1].uuid
    params: dict[str, str | int | None] = {"limit": 2, "marker": first.next_marker}
    second = _as(await api.get("/v1/servers", params=params, headers=ADMIN), ServerList)
    assert len(second.servers) == 1 and second.next_marker is None
    seen = [s.uuid for s in first.servers + second.servers]
    assert sorted(seen) == sorted(accepted.servers)


# -- hosts ---------------------------------------------------------------------------------


async def test_hosts_show_capacity_usage_and_state(api: httpx.AsyncClient, cell: Cell) -> None:
    _settled(cell, await _boot(api, MEMBER_A))
    hosts = _as(await api.get("/v1/hosts", headers=READER_A), HostList)
    assert len(hosts.hosts) == HOSTS
    assert {h.state for h in hosts.hosts} == {"up"}
    assert sum(h.used["VCPU"] for h in hosts.hosts) == 2
    assert all(h.capacity["VCPU"] == 8 for h in hosts.hosts)
    one = hosts.hosts[0]
    for key in (one.name, one.uuid):
        shown = _as(await api.get(f"/v1/hosts/{key}", headers=READER_A), HostView)
        assert shown == one
    missing = await api.get("/v1/hosts/nope", headers=READER_A)
    assert missing.status_code == 404 and _detail(missing) == "No host named or numbered nope."


async def test_a_disabled_host_takes_no_servers_until_enabled(api: httpx.AsyncClient) -> None:
    hosts = _as(await api.get("/v1/hosts", headers=ADMIN), HostList)
    name = hosts.hosts[0].name
    disabled = await api.post(
        f"/v1/hosts/{name}/disable", json={"reason": "disk swap"}, headers=ADMIN
    )
    view = _as(disabled, HostView)
    assert (view.state, view.disabled_reason) == ("disabled", "disk swap")
    explained = await _explain(api, {"resources": FLAVOR})
    assert explained.rejected == {"disabled or down": 1}
    assert name not in explained.destinations
    enabled = await api.post(f"/v1/hosts/{name}/enable", headers=ADMIN)
    assert _as(enabled, HostView).state == "up"
    assert (await _explain(api, {"resources": FLAVOR})).rejected == {}


# -- explain -------------------------------------------------------------------------------


async def _explain(api: httpx.AsyncClient, body: dict[str, object]) -> Explanation:
    response = await api.post("/v1/explain", json=body, headers=READER_A)
    assert response.status_code == 200, response.text
    return _as(response, Explanation)


async def test_explain_says_where_or_why_and_claims_nothing(
    api: httpx.AsyncClient, cell: Cell
) -> None:
    fits = await _explain(api, {"resources": FLAVOR})
    assert fits.fits and fits.hosts == HOSTS and len(fits.destinations) == HOSTS
    too_big = await _explain(api, {"resources": {"VCPU": 9}})
    assert not too_big.fits
    assert too_big.summary == f"0/{HOSTS} hosts are available: {HOSTS} not enough VCPU"
    assert too_big.rejected == {"not enough VCPU": HOSTS}
    states = cell.store.find_providers(ProviderQuery())
    assert all(not s.usages.get("VCPU") for s in states)


# -- server groups and zones -----------------------------------------------------------------


async def test_an_anti_affinity_group_spreads_its_members(
    api: httpx.AsyncClient, cell: Cell
) -> None:
    created = await api.post(
        "/v1/server-groups", json={"policy": "anti-affinity", "name": "spread"}, headers=MEMBER_A
    )
    assert created.status_code == 201
    group = _as(created, GroupView)
    assert (group.name, group.policy, group.project_id) == ("spread", "anti-affinity", "proj-a")
    _settled(cell, await _boot(api, MEMBER_A, count=2, server_group=group.uuid))
    shown = _as(await api.get(f"/v1/server-groups/{group.uuid}", headers=MEMBER_A), GroupView)
    assert len(set(shown.members.values())) == 2  # two members, two hosts
    listed = await api.get("/v1/server-groups", headers=MEMBER_A)
    assert [g["uuid"] for g in listed.json()] == [group.uuid]
    assert (await api.get("/v1/server-groups", headers=MEMBER_B)).json() == []
    other = await api.get(f"/v1/server-groups/{group.uuid}", headers=MEMBER_B)
    assert other.status_code == 404
    assert (
        await api.delete(f"/v1/server-groups/{group.uuid}", headers=MEMBER_A)
    ).status_code == 204
    assert (await api.get(f"/v1/server-groups/{group.uuid}", headers=MEMBER_A)).status_code == 404


async def test_a_zone_confines_boots_to_its_hosts(api: httpx.AsyncClient, cell: Cell) -> None:
    aggregate = "11111111-1111-1111-1111-111111111111"
    inside = [a.register() for a in cell.fleet[:2]]
    for p in inside:
        state = cell.store.get_provider_state(p.uuid)
        cell.store.set_aggregates(p.uuid, state.provider.generation, [aggregate])
    put = await api.put("/v1/availability-zones/az1", json={"aggregate": aggregate}, headers=ADMIN)
    assert put.status_code == 200 and put.json() == {
        "name": "az1",
        "aggregate": aggregate,
        "hosts": 2,
    }
    zones = _as(await api.get("/v1/availability-zones", headers=READER_A), ZoneList)
    assert [z.name for z in zones.availability_zones] == ["az1"]
    explained = await _explain(api, {"resources": FLAVOR, "availability_zone": "az1"})
    assert sorted(explained.destinations) == sorted(p.name for p in inside)
    accepted = await _boot(api, MEMBER_A, availability_zone="az1")
    _settled(cell, accepted)
    assert (await _server(api, accepted.servers[0])).host in {p.uuid for p in inside}
    assert (await api.delete("/v1/availability-zones/az1", headers=ADMIN)).status_code == 204
    gone = await api.delete("/v1/availability-zones/az1", headers=ADMIN)
    assert gone.status_code == 404 and _detail(gone) == "No availability zone az1."


# -- bad input -------------------------------------------------------------------------------

JSON = {"content-type": "application/json"}
BAD = [
    ("POST", "/v1/servers", b"{", JSON, 400, "Malformed JSON"),
    ("POST", "/v1/servers", b"", JSON, 400, "needs a JSON body"),
    ("POST", "/v1/servers", b'{"resources": {"VCPU": "two"}}', JSON, 400, "Expected `int`"),
    ("POST", "/v1/servers", b'{"resources": {"VCPU": 1}, "colour": 1}', JSON, 400, "colour"),
    (
        "POST",
        "/v1/servers",
        b'{"resources": {"vcpu": 1}}',
        JSON,
        400,
        "Did you mean the standard resource class VCPU",
    ),
    ("POST", "/v1/servers", b'{"resources": {"VCPU": -1}}', JSON, 400, "VCPU"),
    (
        "POST",
        "/v1/servers",
        b'{"resources": {"VCPU": 1}, "count": 0}',
        JSON,
        400,
        "num_instances must be",
    ),
    (
        "POST",
        "/v1/servers",
        b'{"resources": {"VCPU": 1}, "availability_zone": "nowhere"}',
        JSON,
        400,
        "nowhere",
    ),
    (
        "POST",
        "/v1/servers",
        b'{"resources": {"VCPU": 1}, "server_group": "nope"}',
        JSON,
        400,
        "nope",
    ),
    (
        "POST",
        "/v1/servers",
        b'{"resources": {"VCPU": 1}}',
        {"content-type": "text/plain"},
        415,
        "application/json",
    ),
    ("POST", "/v1/servers", b'{"resources": {"VCPU": 1}}', {}, 400, "Content-Type"),
    ("GET", "/v1/servers?limit=0", b"", {}, 400, "limit must be 1 to 1000"),
    ("GET", "/v1/servers?limit=x", b"", {}, 400, "limit must be 1 to 1000"),
    ("GET", "/v1/nothing", b"", {}, 404, "could not be found"),
    ("PUT", "/v1/servers", b"", {}, 405, "not allowed"),
    ("POST", "/v1/server-groups", b'{"policy": "sideways"}', JSON, 400, "sideways"),
    ("POST", "/v1/hosts/h/disable", b'{"reason": 5}', JSON, 400, "Expected `str`"),
    ("PUT", "/v1/availability-zones/z", b"{}", JSON, 400, "aggregate"),
]


@pytest.mark.parametrize(("method", "path", "body", "headers", "status", "detail"), BAD)
async def test_bad_input_is_a_4xx_that_says_what_is_wrong(
    api: httpx.AsyncClient,
    method: str,
    path: str,
    body: bytes,
    headers: dict[str, str],
    status: int,
    detail: str,
) -> None:
    response = await api.request(method, path, content=body, headers={**ADMIN, **headers})
    assert response.status_code == status, response.text
    assert detail in _detail(response)
    assert response.json()["errors"][0]["request_id"].startswith("req-")


async def test_a_405_names_the_allowed_methods(api: httpx.AsyncClient) -> None:
    response = await api.put("/v1/servers", headers=ADMIN)
    assert response.headers["allow"] == "GET, POST"


async def test_only_json_is_offered(api: httpx.AsyncClient) -> None:
    response = await api.get("/v1/hosts", headers={**ADMIN, "accept": "text/plain"})
    assert response.status_code == 406


async def test_a_body_over_the_limit_is_refused_before_it_is_read(api: httpx.AsyncClient) -> None:
    body = b'{"resources": {"VCPU": 1}, "name": "' + b"x" * 2_000_000 + b'"}'
    response = await api.post("/v1/servers", content=body, headers={**ADMIN, **JSON})
    assert response.status_code == 413
