"""One SQLite connection per store object and process, with transactions that
translate driver errors at the boundary.

Writers take the lock up front (``BEGIN IMMEDIATE``): SQLite then serializes them
across processes, so a read-check-write inside one transaction is a true
compare-and-set and can never deadlock on a lock upgrade.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import NamedTuple

from berthing.model import StoreCorrupt, StoreUnavailable
from berthing.store.sqlite.checkpoint import BACKSTOP_PAGES, Checkpointer
from berthing.store.sqlite.schema import migrate

__all__ = ["Database"]

MEMORY = ":memory:"
BUSY_TIMEOUT_MS = 30_000
MMAP_BYTES = 256 * 2**20


def translate(exc: sqlite3.Error, path: str) -> Exception:
    """Map a driver error to berthing's store errors, with what to do next."""
    text = str(exc)
    if isinstance(exc, sqlite3.OperationalError):
        if "locked" in text or "busy" in text:
            return StoreUnavailable(
                f"{path} stayed locked for {BUSY_TIMEOUT_MS // 1000}s ({text}).",
                hint="Another process holds a long write; retry, or look for a stuck process.",
            )
        return StoreUnavailable(
            f"Cannot use the SQLite store at {path}: {text}.",
            hint="Check that the file and its directory exist and are writable.",
        )
    if isinstance(exc, sqlite3.DatabaseError):
        return StoreCorrupt(
            f"{path} is not a usable berthing database: {text}.",
            hint="Move the file aside (keep it for inspection) and let berthing create a new one.",
        )
    return StoreUnavailable(f"SQLite error on {path}: {text}.")


class Database:
    """Owns the connection and hands out read and write transactions."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._bulk_depth = 0
        self._checkpointer: Checkpointer | None = None
        with self.write() as db:
            migrate(db, path)

    def _connect(self) -> sqlite3.Connection:
        # A connection must not cross a fork: the child gets its own.
        if self._conn is not None and self._pid == os.getpid():
            return self._conn
        if self.path != MEMORY:
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreUnavailable(
                    f"Cannot create the directory for the SQLite store {self.path}: {exc}.",
                    hint="Point --store at a writable location.",
                ) from exc
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=BUSY_TIMEOUT_MS / 1000
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        if self.path != MEMORY:
            conn.execute("PRAGMA journal_mode = WAL")
            # NORMAL in WAL mode survives a crash of any process (the WAL is on disk
            # before COMMIT returns); only an OS crash or power loss can drop the last
            # commits. FULL would fsync every claim and cost ~10x throughput.
            conn.execute("PRAGMA synchronous = NORMAL")
            # Read the file through a shared memory map rather than read() into each
            # connection's 2 MB page cache: candidate queries probe pages all over a big
            # store, and all processes share the one copy in the OS page cache.
            # Measured at 100k providers: a selective query takes half the CPU.
            conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
            # Checkpoints run in a thread of this process (see checkpoint.py); the
            # automatic one in a committing request is the backstop only.
            conn.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_PAGES}")
            self._checkpointer = Checkpointer(self.path)
            # A store dropped without close() must not leave its thread polling on.
            weakref.finalize(self, self._checkpointer.stop, False)
        self._conn, self._pid = conn, os.getpid()
        return conn

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[sqlite3.Connection]:
        with self._lock:
            # Inside bulk() the outer transaction is open already: join it through a
            # savepoint, so that a failing write still rolls back alone.
            steps = _SAVEPOINT if self._bulk_depth else _top_level(begin)
            conn = self._run(None, steps.begin)
            try:
                yield conn
                conn.execute(steps.commit)
            except sqlite3.Error as exc:
                _undo(conn, steps.undo)
                raise translate(exc, self.path) from exc
            except BaseException:
                _undo(conn, steps.undo)
                raise

    @contextmanager
    def bulk(self) -> Iterator[None]:
        """One outer write transaction that the writes inside join as savepoints."""
        with self._lock:
            if self._bulk_depth:  # nested: the outer bulk() groups these writes already
                yield
                return
            conn = self._run(None, "BEGIN IMMEDIATE")
            self._bulk_depth = 1
            try:
                yield
            finally:
                self._bulk_depth = 0
                # Commit even if the block raised: each write inside already committed
                # or rolled back alone (its savepoint), so the outcome is the one without
                # bulk(). Rolling back here would make bulk() atomic on SQLite only, a
                # promise other backends do not keep.
                try:
                    self._run(conn, "COMMIT")
                except BaseException:
                    _undo(conn, ("ROLLBACK",))
                    raise

    def _run(self, conn: sqlite3.Connection | None, statement: str) -> sqlite3.Connection:
        """Execute a transaction-control statement, translating driver errors."""
        try:
            conn = conn or self._connect()
            conn.execute(statement)
        except sqlite3.Error as exc:
            raise translate(exc, self.path) from exc
        return conn

    def write(self) -> AbstractContextManager[sqlite3.Connection]:
        """A transaction holding the database's write lock from its first statement."""
        return self._transaction("BEGIN IMMEDIATE")

    def read(self) -> AbstractContextManager[sqlite3.Connection]:
        """A transaction that sees one consistent snapshot across its statements."""
        return self._transaction("BEGIN")

    def close(self) -> None:
        with self._lock:
            if self._checkpointer is not None:
                self._checkpointer.stop()
                self._checkpointer = None
            if self._conn is not None and self._pid == os.getpid():
                self._conn.close()
            self._conn = None


class _Steps(NamedTuple):
    begin: str
    commit: str
    undo: tuple[str, ...]


def _top_level(begin: str) -> _Steps:
    return _Steps(begin, "COMMIT", ("ROLLBACK",))


# Writes inside bulk() never nest further, so one savepoint name suffices.
_SAVEPOINT = _Steps(
    "SAVEPOINT bulk_write", "RELEASE bulk_write", ("ROLLBACK TO bulk_write", "RELEASE bulk_write")
)


def _undo(conn: sqlite3.Connection, statements: tuple[str, ...]) -> None:
    # Skipped if SQLite already rolled the whole transaction back (e.g. disk full); the
    # outer COMMIT of a bulk() then fails and reports it.
    if conn.in_transaction:
        for statement in statements:
            conn.execute(statement)
