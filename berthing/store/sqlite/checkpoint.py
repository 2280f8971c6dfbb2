"""Folding the write-ahead log back into the database file off the request path.

By default SQLite checkpoints inside the commit that fills the WAL to 1000 pages: with
claims writing a few pages each, about one claim in 120 paid 6-9 ms to copy the log
and fsync twice, which set the scheduler's p99 on its own. As SQLite's documentation
suggests, a thread of each process now runs a PASSIVE checkpoint (it never waits for,
or blocks, readers and writers) every ``INTERVAL_S``. The connections' own automatic
checkpoint stays as a backstop at ``BACKSTOP_PAGES``: it still rewinds the log from
time to time (a checkpoint in another thread cannot), with most of the copying done.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading

__all__ = ["BACKSTOP_PAGES", "INTERVAL_S", "Checkpointer"]

INTERVAL_S = 0.1
BACKSTOP_PAGES = 4000


class Checkpointer:
    """A daemon thread checkpointing one SQLite file, for the process that started it."""

    def __init__(self, path: str, interval_s: float = INTERVAL_S) -> None:
        self.path = path
        self.interval_s = interval_s
        self.pid = os.getpid()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="berthing-checkpoint", daemon=True)
        self._thread.start()

    def stop(self, wait: bool = True) -> None:
        """Stop the thread, and wait for it unless ``wait`` is False (from a finalizer,
        which may run on that very thread); a no-op in a forked child, which has none."""
        self._stop.set()
        if wait and self.pid == os.getpid() and threading.current_thread() is not self._thread:
            self._thread.join()

    def _run(self) -> None:
        # Its own connection, never shared; timeout 0: a busy file is skipped this round.
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=0)
        except sqlite3.Error:
            return  # the requests' own backstop checkpoint keeps the log bounded
        try:
            while not self._stop.wait(self.interval_s):
                # Only an optimization: on any error the next round or the backstop
                # catches up, and the requests never see it.
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            conn.close()
