"""The pieces a service loop is made of: a stop event set by signals, chores that come
due periodically, and a liveness mark a health check can read."""

from __future__ import annotations

import signal
import threading
import time
from dataclasses import dataclass, field
from types import FrameType
from typing import Protocol

__all__ = ["Every", "Liveness", "StopSignal", "stop_on_signals"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StopSignal(Protocol):
    """What a service loop waits on: a ``threading.Event`` or a ``multiprocessing`` one."""

    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


def stop_on_signals(stop: threading.Event) -> None:
    """Set ``stop`` on Ctrl-C, SIGTERM (systemd, kill) and SIGHUP (a closed terminal), so
    that a service finishes its current step and releases what it holds. Only the main
    thread can install handlers; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    for sig in STOP_SIGNALS:
        signal.signal(sig, handle)


@dataclass
class Every:
    """A chore due every ``period`` seconds (first due at once)."""

    period: float
    _next: float = field(default=float("-inf"), repr=False)

    def due(self) -> bool:
        now = time.monotonic()
        if now < self._next:
            return False
        self._next = now + self.period
        return True


@dataclass
class Liveness:
    """When a loop last completed a step: ``alive(within)`` is a readiness probe."""

    last: float = field(default=float("-inf"))
    steps: int = 0

    def beat(self) -> None:
        self.last = time.monotonic()
        self.steps += 1

    def alive(self, within: float) -> bool:
        return time.monotonic() - self.last <= within
