"""The driver boundary: every call into the Python Cassandra driver happens here.

``Cql`` owns one driver ``Cluster`` connected through every contact point of the URL,
token-aware (a statement goes to a replica of its partition). Reads and plain writes
run at QUORUM, lightweight transactions (LWT) at SERIAL with a QUORUM commit, so one
node of three may be lost without losing an operation.

The driver never retries by itself here (``FallthroughRetryPolicy``): this module
decides, per kind of statement, what a failure means.

* Reads and plain writes are idempotent: on any transient failure (a node down, a
  timeout, an overloaded coordinator) they are sent again, to whichever coordinator
  the load-balancing policy picks next, until the operation's deadline.
* An LWT that fails *before* Paxos started (``Unavailable``: not enough replicas
  alive) did nothing and is sent again. One whose outcome is unknown (``WriteTimeout``
  of a CAS, a client-side timeout, a lost connection, protocol v5's CAS_WRITE_UNKNOWN)
  comes back as ``None``: the caller resolves it with a SERIAL read of what it wrote,
  which completes any Paxos round left in progress, so the answer is final. Nothing
  here guesses an outcome.

Whatever the driver raises is translated here, once, with ``raise ... from``: into
``StoreUnavailable`` naming every contact point, or into ``StoreCorrupt`` when
Cassandra refuses a statement (which would be a berthing bug or a foreign schema).
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from cassandra import (
    ConsistencyLevel,
    CoordinationFailure,
    DriverException,
    InvalidRequest,
    OperationTimedOut,
    ReadTimeout,
    RequestExecutionException,
    RequestValidationException,
    Unavailable,
    WriteTimeout,
)
from cassandra.cluster import EXEC_PROFILE_DEFAULT, Cluster, ExecutionProfile, NoHostAvailable
from cassandra.policies import (
    ConstantReconnectionPolicy,
    DCAwareRoundRobinPolicy,
    FallthroughRetryPolicy,
    TokenAwarePolicy,
)
from cassandra.query import BatchStatement, BatchType, PreparedStatement, dict_factory

from berthing.model import StoreCorrupt, StoreUnavailable
from berthing.store.cassandra.config import CassandraConfig

__all__ = ["CasResult", "Cql", "Query", "Row"]

T = TypeVar("T")
Row = dict[str, Any]
#: One statement: CQL text (prepared once, then cached) and its bound values.
Query = tuple[str, tuple[Any, ...]]

#: One attempt of one statement, client side. Cassandra's own timeouts (writes and CAS
#: contention 5 s, reads 10 s in the test cluster) answer before this does.
ATTEMPT_TIMEOUT = 12.0
#: protocol v5 error code for "LWT outcome unknown" (the driver has no class for it).
CAS_WRITE_UNKNOWN = 0x1700
QUORUM = ConsistencyLevel.QUORUM
#: Statements in flight at once from one ``reads``/``writes`` call.
CONCURRENCY = 64


def _not_the_use_warning(record: logging.LogRecord) -> bool:
    """Drop Cassandra's "`USE <keyspace>` with prepared statements is an anti-pattern".

    Statements here name their tables without a keyspace, because the keyspace comes
    from the store URL; ``Cql.use`` gives it to each prepare (protocol v5), yet Cassandra
    5.0 still warns once per connection, and the driver logs each warning: dozens per
    process, in every log of every scheduler and agent. The ambiguity it warns about
    cannot arise: a session prepares for one keyspace only."""
    return "with prepared statements is considered to be an anti-pattern" not in record.getMessage()


logging.getLogger("cassandra.protocol").addFilter(_not_the_use_warning)


@dataclass(frozen=True, slots=True)
class CasResult:
    """An LWT that Cassandra answered: applied, or not with the current values of the
    columns its conditions named (one row per condition's row for a batch)."""

    applied: bool
    rows: list[Row]

    @property
    def row(self) -> Row:
        return self.rows[0] if self.rows else {}


class _Retry(Exception):
    """A failure after which the same statement may succeed (elsewhere, or later)."""


class _Unknown(Exception):
    """An LWT that may or may not have been applied."""


class Cql:
    """A session on one keyspace, through every contact point of ``config``."""

    def __init__(self, config: CassandraConfig) -> None:
        self.config = config
        self.timeout = config.timeout
        self._pid = os.getpid()
        self._prepared: dict[str, PreparedStatement] = {}
        self.keyspace: str | None = None
        self._lock = threading.Lock()
        profile = ExecutionProfile(
            load_balancing_policy=TokenAwarePolicy(DCAwareRoundRobinPolicy()),
            retry_policy=FallthroughRetryPolicy(),
            consistency_level=ConsistencyLevel.QUORUM,
            serial_consistency_level=ConsistencyLevel.SERIAL,
            request_timeout=ATTEMPT_TIMEOUT,
            row_factory=dict_factory,
        )
        self._cluster = Cluster(
            list(config.hosts),
            port=config.port,
            # Cassandra 5.0 speaks v5; naming it saves the driver's downgrade dance.
            protocol_version=5,
            execution_profiles={EXEC_PROFILE_DEFAULT: profile},
            # A restarted node is used again within a second, not after minutes.
            reconnection_policy=ConstantReconnectionPolicy(0.5, max_attempts=None),
            connect_timeout=5,
            control_connection_timeout=5.0,
            # Schema changes happen once per keyspace; wait for every node to agree.
            max_schema_agreement_wait=60,
        )
        try:
            self.session = self._run("connecting", self._cluster.connect)
        except BaseException:
            self._cluster.shutdown()
            raise

    # -- lifecycle ----------------------------------------------------------------------

    def use(self, keyspace: str) -> None:
        """Statements prepared from now on are for ``keyspace`` (protocol v5's keyspace of
        a prepare): no ``USE``, which reaches each pooled connection on its own time
        (statements once failed with "No keyspace has been specified" meanwhile)."""
        self.keyspace = keyspace

    def ddl(self, cql: str) -> None:
        """A schema statement (idempotent: IF NOT EXISTS), waiting for schema agreement."""
        self._check_process()

        def attempt() -> None:
            self.session.execute(cql, timeout=120)

        self._run("creating the schema", attempt)

    def close(self) -> None:
        if os.getpid() == self._pid:
            self._cluster.shutdown()

    # -- statements ---------------------------------------------------------------------

    def read(self, cql: str, params: tuple[Any, ...] = (), what: str = "a read") -> list[Row]:
        """Rows at QUORUM."""
        return self.reads([(cql, params)], what)[0]

    def serial_read(self, cql: str, params: tuple[Any, ...], what: str) -> list[Row]:
        """Rows at SERIAL: finishes any Paxos round in progress on the partition first,
        so the answer includes (or finally excludes) every LWT that may have landed."""
        statement = self._bind(cql, params, ConsistencyLevel.SERIAL)
        return self._run(what, lambda: list(self._execute(statement, lwt=False)))

    def reads(self, queries: Sequence[Query], what: str = "reads") -> list[list[Row]]:
        """Several reads at once; their rows in order."""
        return self._many(queries, what)

    def write(self, cql: str, params: tuple[Any, ...], what: str) -> None:
        """An idempotent plain write at QUORUM (sent again until it lands or time runs out)."""
        self._many([(cql, params)], what)

    def writes(self, queries: Sequence[Query], what: str) -> None:
        self._many(queries, what)

    def cas(
        self, queries: Sequence[Query], what: str, side: Sequence[Query] = ()
    ) -> CasResult | None:
        """One LWT (one statement, or a conditional batch on one partition). None when
        its outcome is unknown: resolve it with ``serial_read``. ``side``: idempotent
        plain writes sent at the same time (one round trip for both), done on return."""
        self._check_process()
        statement = self._lwt(queries)
        pending = [self.session.execute_async(self._bind(c, p, QUORUM)) for c, p in side]
        started = time.monotonic()
        try:
            while True:
                try:
                    rows = list(self._execute(statement, lwt=True))
                    return CasResult(bool(rows[0]["[applied]"]), rows)
                except _Unknown:
                    return None
                except _Retry as exc:
                    self._pause(what, started, exc)
        finally:
            self._finish(pending, side, what)

    def send(self, queries: Sequence[Query]) -> tuple[list[Any], Sequence[Query]]:
        """Start idempotent plain writes without waiting; ``finish`` them later."""
        self._check_process()
        return [self.session.execute_async(self._bind(c, p, QUORUM)) for c, p in queries], queries

    def finish(self, sent: tuple[list[Any], Sequence[Query]], what: str) -> None:
        self._finish(sent[0], sent[1], what)

    def _finish(self, futures: list[Any], side: Sequence[Query], what: str) -> None:
        """Wait for side writes; send the failed ones again."""
        failed = []
        for future, query in zip(futures, side, strict=True):
            try:
                _result(future)
            except Exception:
                failed.append(query)
        if failed:
            self._many(failed, what)

    # -- machinery ------------------------------------------------------------------------

    def _lwt(self, queries: Sequence[Query]) -> Any:
        if len(queries) == 1:
            return self._bind(*queries[0], ConsistencyLevel.QUORUM)
        batch = BatchStatement(
            batch_type=BatchType.UNLOGGED,
            consistency_level=ConsistencyLevel.QUORUM,
            serial_consistency_level=ConsistencyLevel.SERIAL,
        )
        for cql, params in queries:
            batch.add(self._prepare(cql), params)
        return batch

    def _bind(self, cql: str, params: tuple[Any, ...], consistency: int) -> Any:
        bound = self._prepare(cql).bind(params)
        bound.consistency_level = consistency
        return bound

    def _prepare(self, cql: str) -> PreparedStatement:
        found = self._prepared.get(cql)
        if found is None:
            self._check_process()
            found = self._run(
                "preparing a statement", lambda: self.session.prepare(cql, keyspace=self.keyspace)
            )
            with self._lock:
                self._prepared[cql] = found
        return found

    def _execute(self, statement: Any, lwt: bool) -> Any:
        self._check_process()
        try:
            return _result(self.session.execute_async(statement))
        except Exception as exc:
            raise _classify(exc, lwt) from exc

    @property
    def closed(self) -> bool:
        return bool(self._cluster.is_shutdown)

    def _many(self, queries: Sequence[Query], what: str) -> list[list[Row]]:
        """Run idempotent statements concurrently, each sent again until it succeeds or
        the deadline passes."""
        bound = [self._bind(cql, params, ConsistencyLevel.QUORUM) for cql, params in queries]
        results: list[list[Row] | None] = [None] * len(bound)
        started = time.monotonic()
        while True:
            failed = self._round(bound, results)
            if failed is None:
                return [r if r is not None else [] for r in results]
            self._pause(what, started, failed)

    def _round(self, bound: list[Any], results: list[list[Row] | None]) -> _Retry | None:
        """Send every statement without a result yet, CONCURRENCY at a time; the last
        transient failure, or None if all succeeded."""
        self._check_process()
        pending = [i for i, r in enumerate(results) if r is None]
        failure: _Retry | None = None
        for start in range(0, len(pending), CONCURRENCY):
            chunk = pending[start : start + CONCURRENCY]
            futures = [(i, self.session.execute_async(bound[i])) for i in chunk]
            for i, future in futures:
                try:
                    results[i] = list(_result(future))
                except Exception as exc:
                    error = _classify(exc, lwt=False)
                    if not isinstance(error, _Retry):
                        raise error from exc
                    failure = error
        return failure

    def _run(self, what: str, attempt: Callable[[], T]) -> T:
        """``attempt`` until it succeeds without a driver error or the deadline passes."""
        started = time.monotonic()
        while True:
            try:
                return attempt()
            except (DriverException, NoHostAvailable, RequestExecutionException, OSError) as exc:
                error = _classify(exc, lwt=False)
                if not isinstance(error, _Retry):
                    raise error from exc
                self._pause(what, started, error)
            except _Retry as exc:
                self._pause(what, started, exc)

    def _pause(self, what: str, started: float, error: Exception) -> None:
        waited = time.monotonic() - started
        if waited > self.timeout:
            raise self.unavailable(what, str(error)) from error
        # Nodes are being marked down or coming back: a short, jittered pause.
        time.sleep(min(0.05 + random.uniform(0, 0.1) * (1 + waited), 1.0))

    def unavailable(self, what: str, detail: str) -> StoreUnavailable:
        """The error for ``what`` not completing within the timeout: the one place that
        tells an operator what to check."""
        return StoreUnavailable(
            f"Cassandra did not complete {what} within {self.timeout:g}s through "
            f"{self.config.contact_points} (last error: {detail[:300]}).",
            hint="Check that a majority of the keyspace's replicas run and reach each other "
            "(nodetool status), then retry.",
        )

    def _check_process(self) -> None:
        if os.getpid() != self._pid:
            raise StoreUnavailable(
                "This Cassandra store was opened in another process (it crossed a fork).",
                hint="Open the store again in the child process (open_store(url)).",
            )


def _result(future: Any) -> Any:
    """The answer of a driver future, waiting at most a little over the request timeout.
    The driver enforces that timeout itself; this bounds the wait should its timer never
    fire (seen on a saturated machine: a read waited for twenty minutes)."""
    done = threading.Event()
    future.add_callbacks(lambda _: done.set(), lambda _: done.set())
    if not done.wait(ATTEMPT_TIMEOUT + 5):
        raise OperationTimedOut(f"no answer within {ATTEMPT_TIMEOUT + 5:g}s")
    return future.result()


def _classify(exc: BaseException, lwt: bool) -> Exception:
    """What a driver failure means: ``_Retry`` (nothing was written, or it is safe to
    send again), ``_Unknown`` (an LWT that may have been applied), or a final error."""
    detail = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, Unavailable):
        return _Retry(detail)  # refused before anything was written
    if isinstance(exc, WriteTimeout | OperationTimedOut | CoordinationFailure) and lwt:
        return _Unknown(detail)
    if isinstance(exc, ReadTimeout | WriteTimeout | OperationTimedOut | CoordinationFailure):
        return _Retry(detail)
    if getattr(exc, "code", None) == CAS_WRITE_UNKNOWN:
        return _Unknown(detail)
    if isinstance(exc, InvalidRequest | RequestValidationException):
        return StoreCorrupt(
            f"Cassandra refused a statement: {exc}.",
            hint="The keyspace may hold tables berthing did not create, or this is a "
            "berthing bug; use a keyspace of berthing's own.",
        )
    # Anything else (no host reachable, a broken connection, an overloaded or
    # bootstrapping node) is a connection problem: for an LWT the request may have
    # reached a coordinator.
    return _Unknown(detail) if lwt else _Retry(detail)
