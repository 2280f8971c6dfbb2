"""Running local servers in the foreground until Ctrl-C, SIGTERM or SIGHUP stops them.

``berthing etcd-cluster`` and ``berthing cassandra-cluster`` start child processes in
their own sessions (so that a Ctrl-C reaches only berthing, which then stops them in
order). Python turns only SIGINT into an exception; a SIGTERM from a service manager or
``kill``, or a SIGHUP from a closed terminal, would end berthing at once and leave the
servers running. ``serve`` turns all three into the same clean stop.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["Stopped", "serve", "stop_on_signals"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
POLL = 0.5


class Stopped(KeyboardInterrupt):
    """A stop signal arrived; a KeyboardInterrupt so that code treating Ctrl-C as
    "stop" treats SIGTERM and SIGHUP the same way."""


def _ignore_stop_signals() -> None:
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


def _raise_stopped(signum: int, frame: FrameType | None) -> None:
    # Further signals must not interrupt the clean-up this one starts.
    _ignore_stop_signals()
    raise Stopped(signal.Signals(signum).name)


@contextmanager
def stop_on_signals() -> Iterator[None]:
    """Raise ``Stopped`` on SIGINT, SIGTERM or SIGHUP inside the block (main thread only)."""
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    for signum in STOP_SIGNALS:
        signal.signal(signum, _raise_stopped)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def serve(
    start: Callable[[], object],
    stop: Callable[[], None],
    alive: Callable[[], bool],
    announce: Callable[[], None],
) -> bool:
    """start(), announce(), wait while alive(), then stop() whatever happened.

    True if a signal (or Ctrl-C) ended it, False if ``alive`` turned false. Signals are
    ignored while ``stop`` runs: a second Ctrl-C must not leave servers half-stopped.
    """
    with stop_on_signals():
        try:
            start()
            announce()
            while alive():
                time.sleep(POLL)
            return False
        except Stopped:
            return True
        finally:
            _ignore_stop_signals()
            stop()
