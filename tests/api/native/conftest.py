"""The native API in process: the ASGI app of ``berthing serve`` (``build_app``) over a
real store, called through httpx's ASGI transport; a conductor and agents of this
process, driven step by step, turn boots into ACTIVE servers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from berthing.agent import Agent
from berthing.conductor import Conductor
from berthing.scheduler import Scheduler
from berthing.service import Health, ServeConfig, build_app
from berthing.store import Store
from tests.backends import BACKENDS, SHARED, Backend, fresh_store
from tests.lifecycle.harness import agents, drive

# noauth2 (the default): "admin" is an administrator, "user:project" plus X-Roles anyone.
ADMIN = {"x-auth-token": "admin"}
MEMBER_A = {"x-auth-token": "alice:proj-a", "x-roles": "member"}
MEMBER_B = {"x-auth-token": "bob:proj-b", "x-roles": "member"}
READER_A = {"x-auth-token": "rita:proj-a", "x-roles": "reader"}
NO_ROLE = {"x-auth-token": "nobody:proj-a"}
HOSTS = 4


@dataclass
class Cell:
    """A store, its app, and the workers that would run in other processes."""

    store: Store
    app: httpx.ASGITransport
    conductor: Conductor
    fleet: list[Agent]

    def settle(self, until: Callable[[], bool]) -> None:
        """Run the conductor and agents until ``until()`` (at most 30 s)."""
        drive([self.conductor], self.fleet, until)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def _cell(store: Store, config: ServeConfig) -> Cell:
    fleet = agents(store, HOSTS)
    app = build_app(config, store, Health(store, lambda: []))
    conductor = Conductor(store, Scheduler(store), cell=config.cell.name)
    return Cell(store, httpx.ASGITransport(app=app), conductor, fleet)


@pytest.fixture
def cell(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Cell]:
    """On a SQLite file: most API tests are about HTTP, not the backend."""
    with fresh_store(BACKENDS[1], tmp_path, request) as store:
        yield _cell(store, ServeConfig())


@pytest.fixture(params=SHARED, ids=[b.name for b in SHARED])
def any_cell(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Cell]:
    """On every backend a server runs on: for what the store decides (who sees what,
    state after each step)."""
    backend: Backend = request.param
    with fresh_store(backend, tmp_path, request) as store:
        yield _cell(store, ServeConfig())


@pytest.fixture
async def api(cell: Cell) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=cell.app, base_url="http://berthing") as client:
        yield client


@pytest.fixture
async def any_api(any_cell: Cell) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=any_cell.app, base_url="http://berthing") as client:
        yield client
