"""``berthing serve`` as a child process on a free loopback port, for tests and
benchmarks that must talk to a real HTTP server, not an in-process app."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from berthing.devtools.ports import free_port
from berthing.model import StoreUnavailable

__all__ = ["ServerProcess"]

# Generous: under load (CI boxes, parallel test processes) an import of the app alone can
# take tens of seconds, and a slow start is not what these tests test.
START_TIMEOUT = 90.0
STOP_TIMEOUT = 30.0


class ServerProcess:
    """Start with ``with ServerProcess(store_url, log_dir) as server: server.url``."""

    def __init__(
        self,
        store_url: str,
        log_dir: Path,
        *extra: str,
        config: Path | None = None,
        start_timeout: float = START_TIMEOUT,
    ) -> None:
        """``start_timeout``: a server with a cell starts its workers (a simulated fleet
        registers every host) before it listens, which takes longer on a busy machine."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"serve-{self.port}.log"
        args = ["serve", "--port", str(self.port), "--store", store_url, *extra]
        if config is not None:
            args += ["--config", str(config)]
        self._args = [sys.executable, "-m", "berthing.cli", *args]
        self._process: subprocess.Popen[bytes] | None = None
        self.start_timeout = start_timeout

    def __enter__(self) -> ServerProcess:
        log = self.log_path.open("wb")
        env = {**os.environ, "BERTHING_CONFIG": os.environ.get("BERTHING_CONFIG", "/nonexistent")}
        self._process = subprocess.Popen(self._args, stdout=log, stderr=subprocess.STDOUT, env=env)
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(self.url + "/", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        self.stop()
        tail = self.log_path.read_text(errors="replace")[-2000:]
        raise StoreUnavailable(
            f"berthing serve did not answer on {self.url}; its log ends:\n{tail}"
        )

    @property
    def pid(self) -> int:
        assert self._process is not None, "not started"
        return self._process.pid

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                # A graceful stop joins the cell's workers, each within 10 s.
                self._process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
