"""The Placement API the spec files run against: ``berthing serve`` on each backend
(started once per test session), or any server named by ``PLACEMENT_SPEC_URL`` (a real
OpenStack Placement, to check the spec itself)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from berthing.devtools.server import ServerProcess
from tests.backends import SHARED, Backend


@pytest.fixture(scope="session", params=SHARED, ids=[b.name for b in SHARED])
def placement_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    url = os.environ.get("PLACEMENT_SPEC_URL")
    if url:
        yield url.rstrip("/")
        return
    backend: Backend = request.param
    tmp = tmp_path_factory.mktemp(f"serve-{backend.name}")
    with backend.url(tmp, request) as store_url, ServerProcess(store_url, tmp) as server:
        yield server.url
