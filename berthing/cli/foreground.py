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

__all__ = ["serve", "stop_on_signals"]

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
POLL = 0.5


def _ignore_stop_signals() -> None:
    for signum in STOP_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


@contextmanager
def stop_on_signals() -> Iterator[list[int]]:
    """Record SIGINT, SIGTERM and SIGHUP in the yielded list instead of acting on them.

    The handler only records: an exception raised from a signal handler lands wherever
    the main thread happens to be, and inside ``subprocess.Popen.poll`` it leaves the
    Popen's wait lock held, so that stopping the servers afterwards hangs for ever
    (seen here). Callers check the list at points where stopping is safe.
    """
    received: list[int] = []
    previous = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    for signum in STOP_SIGNALS:
        signal.signal(signum, lambda signum, frame: received.append(signum))
    try:
        yield received
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

    True if a signal (or Ctrl-C) ended it, False if ``alive`` turned false. A signal
    during start() takes effect once start() returns or fails. Signals are ignored
    while ``stop`` runs: a second Ctrl-C must not leave servers half-stopped.
    """
    with stop_on_signals() as received:
        try:
            start()
            if received:
                return True
            announce()
            while alive() and not received:
                time.sleep(POLL)
            return bool(received)
        finally:
            _ignore_stop_signals()
            stop()
