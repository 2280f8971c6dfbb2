"""A real etcd cluster of local processes on 127.0.0.1, for tests, demos and benchmarks.

Each member is an ``etcd`` process (Debian's ``etcd-server``) on two free loopback
ports, its data under ``data_dir/<name>``. The harness can kill a member (SIGKILL, as
a crashed host), restart it on the same ports and data so that it rejoins, and find
the leader. It talks to members with the standard library only (the JSON gateway), so
that it works whatever etcd client the store uses and even when the store is broken.

Nothing here is a fake: the store under test talks to these processes over TCP.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from berthing.devtools.ports import HOST, free_port_block
from berthing.model import StoreUnavailable

__all__ = ["EtcdCluster", "Member", "etcd_binary"]

# Faster than etcd's defaults (100 ms / 1000 ms): loopback round trips are ~0.1 ms, and
# the fault tests measure fail-over, which is bounded below by the election timeout.
HEARTBEAT_MS = 50
ELECTION_MS = 500
START_TIMEOUT = 30.0
STOP_GRACE = 1.0


def etcd_binary() -> str:
    """The etcd server binary, or StoreUnavailable saying how to install it."""
    found = shutil.which("etcd")
    if found is None:
        raise StoreUnavailable(
            "No etcd binary on PATH.",
            hint="Install Debian's etcd-server package (scripts/test does this).",
        )
    return found


@dataclass
class Member:
    name: str
    client_port: int
    peer_port: int
    data_dir: Path
    process: subprocess.Popen[bytes] | None = None
    log: IO[bytes] | None = field(default=None, repr=False)

    @property
    def client_url(self) -> str:
        return f"http://{HOST}:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://{HOST}:{self.peer_port}"

    @property
    def address(self) -> str:
        return f"{HOST}:{self.client_port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


class EtcdCluster:
    """``size`` etcd members on loopback. Use as a context manager, or start()/stop()."""

    def __init__(self, data_dir: Path, size: int = 3, base_port: int | None = None) -> None:
        """Members on ``base_port + 10*i`` (clients) and ``+1`` (peers); by default a
        free block below the ephemeral range (``ports.free_port_block``).

        A data directory that held a cluster before keeps its ports and token (saved in
        ``cluster.json``): etcd members remember their peers' addresses in their data.
        """
        self.data_dir = Path(data_dir)
        saved = self.data_dir / "cluster.json"
        if saved.exists():
            layout = json.loads(saved.read_text())
            self.token, ports = layout["token"], [tuple(p) for p in layout["ports"]]
        else:
            self.token = f"berthing-{uuid.uuid4().hex[:12]}"
            base = base_port or free_port_block(10 * size)
            ports = [(base + 10 * i, base + 10 * i + 1) for i in range(size)]
        self.members = [
            Member(f"m{i}", c, p, self.data_dir / f"m{i}") for i, (c, p) in enumerate(ports)
        ]

    # -- addresses --------------------------------------------------------------------

    @property
    def endpoints(self) -> list[str]:
        return [m.address for m in self.members]

    def url(self, prefix: str = "") -> str:
        """A store URL naming every member, optionally with a key prefix."""
        base = "etcd://" + ",".join(self.endpoints)
        return f"{base}/{prefix}" if prefix else base

    # -- lifecycle --------------------------------------------------------------------

    def start(self, timeout: float = START_TIMEOUT) -> EtcdCluster:
        """Start every member and wait until the cluster has a leader and serves writes."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        ports = [[m.client_port, m.peer_port] for m in self.members]
        (self.data_dir / "cluster.json").write_text(
            json.dumps({"token": self.token, "ports": ports})
        )
        # A crashed test run must not leave etcd processes behind.
        atexit.register(self.stop)
        for m in self.members:
            self._spawn(m, "new")
        self.wait_healthy(timeout)
        return self

    def stop(self) -> None:
        """Stop every member: SIGTERM, then SIGKILL what still runs after ``STOP_GRACE``.

        The grace is short because a member whose peers are gone waits for them until
        an election timeout passes; its WAL is fsync'd, so SIGKILL loses nothing.
        """
        for m in self.members:
            if m.running:
                assert m.process is not None
                m.process.terminate()
        deadline = time.monotonic() + STOP_GRACE
        for m in self.members:
            self._reap(m, max(0.0, deadline - time.monotonic()))

    def kill(self, index: int) -> Member:
        """SIGKILL one member, as a host crash; returns it."""
        m = self.members[index]
        if m.running:
            assert m.process is not None
            m.process.send_signal(signal.SIGKILL)
        self._reap(m, 5.0)
        return m

    def restart(self, index: int, timeout: float = START_TIMEOUT) -> Member:
        """Start a stopped member again on its ports and data; wait until it serves."""
        m = self.members[index]
        if not m.running:
            self._spawn(m, "existing")
        wait_until(lambda: self.member_healthy(m), timeout, f"{m.name} did not rejoin")
        return m

    def __enter__(self) -> EtcdCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- raw access, for clean-up and for tests that look under the store -------------

    def delete_prefix(self, prefix: str) -> None:
        """Delete every key under ``prefix`` (test clean-up)."""
        key = prefix.encode()
        with contextlib.suppress(OSError, StoreUnavailable):
            self._ask("/v3/kv/deleterange", {"key": _b64(key), "range_end": _b64(_end(key))})

    def scan(self, prefix: str) -> dict[str, dict[str, Any]]:
        """key -> {"value": bytes, "mod_revision": int, "lease": int} under ``prefix``."""
        key = prefix.encode()
        body = self._ask("/v3/kv/range", {"key": _b64(key), "range_end": _b64(_end(key))})
        return {
            base64.b64decode(kv["key"]).decode(): {
                "value": base64.b64decode(kv.get("value", "")),
                "mod_revision": int(kv["mod_revision"]),
                "lease": int(kv.get("lease", 0)),
            }
            for kv in body.get("kvs", [])
        }

    def put(self, key: str, value: bytes) -> None:
        self._ask("/v3/kv/put", {"key": _b64(key.encode()), "value": _b64(value)})

    def compact(self) -> int:
        """Compact the history up to the current revision; that revision."""
        revision = int(self._ask("/v3/kv/range", {"key": _b64(b"x")})["header"]["revision"])
        self._ask("/v3/kv/compaction", {"revision": revision, "physical": True})
        return revision

    def _ask(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        for m in self.members:
            if m.running:
                with contextlib.suppress(OSError):
                    return _post(m, path, body, timeout=5.0)
        raise StoreUnavailable(f"No etcd member of {', '.join(self.endpoints)} answered {path}.")

    # -- health and leadership ---------------------------------------------------------

    def member_healthy(self, m: Member) -> bool:
        """True if ``m`` runs, has a leader, and answers a linearizable read."""
        if not m.running:
            return False
        try:
            body = _post(m, "/v3/kv/range", {"key": "aGVhbHRo"}, timeout=1.0)
        except OSError:
            return False
        return "header" in body

    def wait_healthy(self, timeout: float = START_TIMEOUT) -> None:
        """Wait until every running member answers linearizable reads."""
        running = [m for m in self.members if m.running]
        wait_until(
            lambda: all(self.member_healthy(m) for m in running),
            timeout,
            f"etcd cluster at {', '.join(self.endpoints)} did not become healthy "
            f"(logs under {self.data_dir})",
        )

    def leader_index(self) -> int:
        """Index of the current leader, asking the running members."""
        for m in self.members:
            if not m.running:
                continue
            try:
                status = _post(m, "/v3/maintenance/status", {}, timeout=1.0)
            except OSError:
                continue
            leader = str(status.get("leader", ""))
            for i, other in enumerate(self.members):
                if other.running and _member_id(other) == leader:
                    return i
        raise StoreUnavailable(f"No etcd member at {', '.join(self.endpoints)} knows a leader.")

    def wait_leader(self, timeout: float = START_TIMEOUT) -> int:
        """Wait until a leader is elected among the running members; its index."""
        found: list[int] = []

        def elected() -> bool:
            with contextlib.suppress(StoreUnavailable):
                found.append(self.leader_index())
                return True
            return False

        wait_until(elected, timeout, "no etcd leader was elected")
        return found[-1]

    # -- internals --------------------------------------------------------------------

    def _spawn(self, m: Member, state: str) -> None:
        m.data_dir.parent.mkdir(parents=True, exist_ok=True)
        initial = ",".join(f"{o.name}={o.peer_url}" for o in self.members)
        args = [
            etcd_binary(),
            f"--name={m.name}",
            f"--data-dir={m.data_dir}",
            f"--listen-client-urls={m.client_url}",
            f"--advertise-client-urls={m.client_url}",
            f"--listen-peer-urls={m.peer_url}",
            f"--initial-advertise-peer-urls={m.peer_url}",
            f"--initial-cluster={initial}",
            f"--initial-cluster-state={state}",
            f"--initial-cluster-token={self.token}",
            f"--heartbeat-interval={HEARTBEAT_MS}",
            f"--election-timeout={ELECTION_MS}",
            "--logger=zap",
            "--log-level=warn",
        ]
        m.log = (self.data_dir / f"{m.name}.log").open("ab")
        # Own session: a Ctrl-C in the terminal must not kill members behind our back.
        m.process = subprocess.Popen(
            args, stdout=m.log, stderr=subprocess.STDOUT, start_new_session=True
        )

    @staticmethod
    def _reap(m: Member, timeout: float) -> None:
        if m.process is not None:
            try:
                m.process.wait(timeout)
            except subprocess.TimeoutExpired:
                m.process.kill()
                m.process.wait()
        if m.log is not None:
            m.log.close()
            m.log = None


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``condition`` every 20 ms until true; StoreUnavailable(what) after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise StoreUnavailable(f"{what} within {timeout:.0f}s.")
        time.sleep(0.02)


def _post(m: Member, path: str, body: dict[str, Any], timeout: float) -> dict[str, Any]:
    req = urllib.request.Request(
        m.client_url + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            out = json.loads(resp.read())
    except (urllib.error.URLError, TimeoutError, ConnectionError, ValueError) as exc:
        raise OSError(str(exc)) from exc
    if not isinstance(out, dict):
        raise OSError(f"unexpected answer from {m.address}: {out!r}")
    return out


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _end(prefix: bytes) -> bytes:
    return prefix[:-1] + bytes([prefix[-1] + 1])  # prefixes here end in '/' or a letter


def _member_id(m: Member) -> str:
    try:
        return str(_post(m, "/v3/maintenance/status", {}, timeout=1.0)["header"]["member_id"])
    except (OSError, KeyError):
        return ""


if __name__ == "__main__":  # pragma: no cover - a quick manual check
    import tempfile

    with tempfile.TemporaryDirectory() as d, EtcdCluster(Path(d)) as c:
        print(c.url(), "leader:", c.leader_index(), "pid", os.getpid())
