"""The native API of a real ``berthing serve`` (a child process with its cell: a
conductor and a simulated fleet) on each shared backend: boots reach ACTIVE through
HTTP alone, and the operations endpoints answer as a load balancer and Prometheus
expect."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from berthing.devtools.server import ServerProcess
from tests.backends import SHARED, Backend

ADMIN = {"x-auth-token": "admin"}
MEMBER = {"x-auth-token": "alice:proj-a", "x-roles": "member"}
SIMULATED_HOSTS = 12
START = 120.0  # seconds: the cell starts first, spawning interpreters on a shared machine

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=SHARED, ids=[b.name for b in SHARED])
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.Client]:
    backend: Backend = request.param
    tmp = tmp_path_factory.mktemp(f"live-{backend.name}")
    with (
        backend.url(tmp, request) as url,
        ServerProcess(
            url, tmp, "--simulate-hosts", str(SIMULATED_HOSTS), start_timeout=START
        ) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        yield client


def _until(check: Callable[[], object], seconds: float = 30.0) -> object:
    """``check()``'s first truthy answer, polled for at most ``seconds``."""
    deadline = time.monotonic() + seconds
    while not (answer := check()):
        assert time.monotonic() < deadline, f"not done within {seconds}s"
        time.sleep(0.1)
    return answer


def _state(live: httpx.Client, uuid: str) -> str:
    return str(live.get(f"/v1/servers/{uuid}", headers=MEMBER).json()["state"])


def test_health_and_readiness(live: httpx.Client) -> None:
    assert live.get("/healthz").json() == {"status": "ok"}
    ready = live.get("/readyz")  # the store answers and every worker of the cell runs
    assert ready.status_code == 200 and ready.json() == {"status": "ok", "problems": []}


def test_a_boot_reaches_active_and_a_delete_frees_it(live: httpx.Client) -> None:
    body = {"resources": {"VCPU": 2, "MEMORY_MB": 2048}, "name": "live"}
    accepted = live.post("/v1/servers", json=body, headers=MEMBER)
    assert accepted.status_code == 202, accepted.text
    [uuid] = accepted.json()["servers"]
    _until(lambda: _state(live, uuid) in ("ACTIVE", "ERROR"))
    view = live.get(f"/v1/servers/{uuid}", headers=MEMBER).json()
    assert view["state"] == "ACTIVE", view
    host = live.get(f"/v1/hosts/{view['host']}", headers=MEMBER).json()
    assert host["used"]["VCPU"] >= 2 and host["state"] == "up"
    assert live.delete(f"/v1/servers/{uuid}", headers=MEMBER).status_code == 202
    _until(lambda: _state(live, uuid) == "DELETED")


def test_no_token_wrong_role_other_project(live: httpx.Client) -> None:
    assert live.get("/v1/servers").status_code == 401
    body = {"resources": {"VCPU": 1}}
    reader = {"x-auth-token": "rita:proj-a", "x-roles": "reader"}
    assert live.post("/v1/servers", json=body, headers=reader).status_code == 403
    [uuid] = live.post("/v1/servers", json=body, headers=MEMBER).json()["servers"]
    other = {"x-auth-token": "bob:proj-b", "x-roles": "member"}
    assert live.get(f"/v1/servers/{uuid}", headers=other).status_code == 404


def test_metrics_parse_and_count_what_happened(live: httpx.Client) -> None:
    live.get("/v1/hosts", headers=MEMBER)
    families = _until(lambda: _families_with_placements(live), seconds=15)
    assert isinstance(families, dict)
    requests = families["berthing_http_request_seconds"]
    counted = {
        (s.labels["route"], s.labels["method"], s.labels["status"])
        for s in requests.samples
        if s.name.endswith("_count") and s.value > 0
    }
    assert ("/v1/hosts", "GET", "200") in counted
    store_calls = families["berthing_store_call_seconds"]
    assert any(s.name.endswith("_count") and s.value > 0 for s in store_calls.samples)
    assert "berthing_scheduling_seconds" in families


def _families_with_placements(live: httpx.Client) -> dict[str, object] | None:
    """The parsed exposition once a conductor has published a placement (every 1 s)."""
    live.post("/v1/servers", json={"resources": {"VCPU": 1}}, headers=MEMBER)
    response = live.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    events = families.get("berthing_scheduler_events")
    placed = [
        s.value
        for s in (events.samples if events else [])
        if s.labels.get("event") == "placements" and s.name.endswith("_total")
    ]
    return dict(families) if placed and placed[0] >= 1 else None
