"""``berthing serve`` as a process: its cell's workers never outlive it."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import httpx
import pytest

from berthing.devtools.server import ServerProcess


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()]


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "State:\tZ" not in status


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_the_cell_stops_when_its_server_is_killed(tmp_path: Path, sig: signal.Signals) -> None:
    """SIGKILL leaves the server no chance to stop its cell; SIGTERM neither, in
    practice: uvicorn re-raises it after its graceful shutdown, ending the process
    before ``serve`` can join its workers."""
    store = f"sqlite:///{tmp_path / 'cell.db'}"
    with ServerProcess(store, tmp_path, "--simulate-hosts", "4", start_timeout=120) as server:
        workers = [c for c in _children(server.pid) if "spawn_main" in _cmdline(c)]
        assert len(workers) == 2  # the simulated fleet and one conductor
        os.kill(server.pid, sig)
        deadline = time.monotonic() + 30
        while any(_alive(w) for w in workers):
            assert time.monotonic() < deadline, "orphaned cell workers are still running"
            time.sleep(0.2)


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


@pytest.mark.slow
def test_json_logs_carry_the_request_id(tmp_path: Path) -> None:
    """``--log-format json``: every line is a JSON object; a request's access line
    carries the id the client got in its response header."""
    store = f"sqlite:///{tmp_path / 'cell.db'}"
    with ServerProcess(store, tmp_path, "--log-format", "json", "--conductors", "0") as server:
        answer = httpx.get(f"{server.url}/resource_providers", headers={"x-auth-token": "admin"})
        request_id = answer.headers["x-openstack-request-id"]
    lines = [json.loads(line) for line in server.log_path.read_text().splitlines()]  # all JSON
    assert {"asctime", "level", "name", "request_id", "message"} <= set(lines[0])
    [access] = [line for line in lines if line["request_id"] == request_id]
    assert "/resource_providers" in access["message"] and access["level"] == "INFO"
