"""The driver boundary: every call into aetcd (gRPC) happens here and nowhere else.

``aetcd`` is asyncio-only while the store contract is synchronous and thread-safe, so
each ``KV`` owns one event loop on a daemon thread; callers on any thread hand it
coroutines and wait. All endpoints are used: a call that fails on a connection error
moves to the next endpoint and tries again until the operation's deadline, so losing
one member costs a retry, not an error. Whatever the driver raises is translated here,
with ``raise ... from``, into ``StoreUnavailable`` naming every address tried.

Retrying a write is safe because every write this backend sends is a compare-and-set
whose compares fail once any earlier attempt of it has been applied (see ``stm.py``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import threading
from collections.abc import AsyncGenerator, Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

# aetcd ships no type information; its values stay inside this module.
import aetcd  # type: ignore[import-untyped]
from aetcd import rpc

from berthing.model import StoreUnavailable
from berthing.store.etcd.ops import Compare, Delete, KeyValue, Op, Put, Range, TxnResult

__all__ = ["KV", "Compacted", "LeaseGone", "WatchEvent"]

T = TypeVar("T")

#: One attempt against one member; a member that takes longer is treated as lost. A
#: healthy member answers in milliseconds; one whose leader just died holds requests
#: until etcd's own 5 s+ request timeout, so a short limit is what makes fail-over fast.
#: Giving up on a slow attempt that did land is safe (see the module docstring).
ATTEMPT_TIMEOUT = 1.0
#: gRPC reconnects to a restarted member within a second instead of backing off for
#: up to two minutes (gRPC's default); keepalive finds half-open connections.
CHANNEL_OPTIONS = {
    "grpc.initial_reconnect_backoff_ms": 100,
    "grpc.min_reconnect_backoff_ms": 100,
    "grpc.max_reconnect_backoff_ms": 1000,
    "grpc.keepalive_time_ms": 10_000,
    "grpc.keepalive_timeout_ms": 5_000,
}
#: Ask the member to end a watch when it loses its leader, instead of going silent.
WATCH_METADATA = (("hasleader", "true"),)

_CODES = rpc.StatusCode
#: Codes after which another member (or the same one a moment later) may succeed.
_RETRIABLE = {
    _CODES.UNAVAILABLE,
    _CODES.DEADLINE_EXCEEDED,
    _CODES.CANCELLED,
    _CODES.RESOURCE_EXHAUSTED,
    _CODES.ABORTED,
    _CODES.INTERNAL,
    _CODES.UNKNOWN,
}
_TARGETS = {"mod": rpc.Compare.MOD, "create": rpc.Compare.CREATE, "version": rpc.Compare.VERSION}
_FIELDS = {"mod": "mod_revision", "create": "create_revision", "version": "version"}
_RESULTS = {
    "==": rpc.Compare.EQUAL,
    "!=": rpc.Compare.NOT_EQUAL,
    "<": rpc.Compare.LESS,
    ">": rpc.Compare.GREATER,
}


class Compacted(StoreUnavailable):
    """A read or watch asked for a revision etcd has compacted away: read again."""


class LeaseGone(StoreUnavailable):
    """A put named a lease that expired before the put arrived."""


@dataclass(frozen=True, slots=True)
class WatchEvent:
    kind: Literal["put", "delete"]
    kv: KeyValue


class _Retry(Exception):
    """One attempt failed in a way another attempt may not."""

    def __init__(self, detail: str, maybe_applied: bool, refused: bool = False) -> None:
        super().__init__(detail)
        self.detail = detail
        self.maybe_applied = maybe_applied
        self.refused = refused


class KV:
    """A connection to an etcd cluster through all of its endpoints."""

    def __init__(self, endpoints: Sequence[str], timeout: float) -> None:
        self.endpoints = list(endpoints)
        self.timeout = timeout
        self._pid = os.getpid()
        self._clients: dict[str, Any] = {}
        self._current = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="berthing-etcd", daemon=True
        )
        self._thread.start()

    # -- running coroutines from synchronous callers -------------------------------------

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on this connection's loop and wait for its result."""
        if self._loop.is_closed():
            coro.close()
            raise StoreUnavailable(
                "This etcd store is closed.", hint="Open it again with open_store(url)."
            )
        if os.getpid() != self._pid:
            coro.close()
            raise StoreUnavailable(
                "This etcd store was opened in another process (it crossed a fork).",
                hint="Open the store again in the child process (open_store(url)).",
            )
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> concurrent.futures.Future[None]:
        """Start a background coroutine (the catalogue's watch) on this loop."""
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def close(self) -> None:
        if self._loop.is_closed() or os.getpid() != self._pid:
            return
        asyncio.run_coroutine_threadsafe(self._close_clients(), self._loop).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    async def _close_clients(self) -> None:
        # Finish every task first (watches, gRPC's own): a task left pending when the
        # loop closes is reported as destroyed on stderr.
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._loop.shutdown_asyncgens()
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            # Closing a channel to a dead member may fail; there is nothing left to do.
            with contextlib.suppress(Exception):
                await client.close()

    # -- the operations ------------------------------------------------------------------

    def txn(
        self,
        compares: Sequence[Compare],
        success: Sequence[Op],
        failure: Sequence[Op] = (),
        what: str = "a transaction",
    ) -> TxnResult:
        """One etcd transaction: ``if all(compares) then success else failure``.
        ``what`` names the operation in errors."""
        return self.run(self.atxn(compares, success, failure, what))

    def read(self, ranges: Sequence[Range], what: str = "a read") -> TxnResult:
        """Several linearizable reads answered at one revision (a read-only txn)."""
        return self.run(self.atxn((), ranges, (), what))

    async def atxn(
        self,
        compares: Sequence[Compare],
        success: Sequence[Op],
        failure: Sequence[Op] = (),
        what: str = "a transaction",
    ) -> TxnResult:
        """``txn`` for code already running on this connection's loop."""
        request = rpc.TxnRequest(
            compare=[_pb_compare(c) for c in compares],
            success=[_pb_op(o) for o in success],
            failure=[_pb_op(o) for o in failure],
        )
        writes = any(not isinstance(o, Range) for o in [*success, *failure])

        async def attempt(client: Any, timeout: float) -> Any:
            return await client.kvstub.Txn(request, timeout=timeout)

        response, ambiguous = await self._failover(what, attempt, writes)
        return _txn_result(response, ambiguous)

    def grant(self, ttl: int) -> int:
        """A new lease of ``ttl`` seconds; its id."""
        request = rpc.LeaseGrantRequest(TTL=ttl, ID=0)

        async def attempt(client: Any, timeout: float) -> Any:
            return await client.leasestub.LeaseGrant(request, timeout=timeout)

        response, _ = self.run(self._failover("a lease grant", attempt, write=True))
        if response.error:
            raise StoreUnavailable(f"etcd refused a lease of {ttl}s: {response.error}.")
        return int(response.ID)

    async def watch(
        self,
        key: bytes,
        range_end: bytes,
        start_revision: int,
        deliver: Callable[[int, list[WatchEvent]], None],
    ) -> None:
        """Deliver every change in ``[key, range_end)`` from ``start_revision`` on, forever.

        ``deliver(progress, events)`` runs on the loop for each batch; ``progress`` is the
        revision up to which nothing else will come. A broken stream resumes on the next
        endpoint from the last delivered revision. Raises ``Compacted`` if the history
        needed is gone; cancel the task to stop.
        """
        start = start_revision
        failures = 0
        while True:
            endpoint = self.endpoints[self._current]
            try:
                client = await self._client(endpoint)
                # aclosing: a cancelled watch ends its gRPC stream now, not at GC time.
                stream = _watch_stream(client, key, range_end, start)
                async with contextlib.aclosing(stream) as batches:
                    async for progress, events in batches:
                        failures = 0
                        start = max(start, progress + 1)
                        deliver(progress, events)
            except Compacted:
                raise
            except rpc.AioRpcError as exc:
                if exc.code() == _CODES.OUT_OF_RANGE:
                    raise Compacted(f"etcd compacted the history before {start}.") from exc
            except Exception:  # any broken stream: resume from `start` elsewhere
                pass
            # The stream ended or broke: go on from where it stopped, elsewhere.
            self._rotate(endpoint)
            failures += 1
            await asyncio.sleep(min(0.05 * failures, 0.5))

    # -- fail-over ---------------------------------------------------------------------

    async def _client(self, endpoint: str) -> Any:
        client = self._clients.get(endpoint)
        if client is None:
            host, port = endpoint.rsplit(":", 1)
            client = aetcd.Client(host=host, port=int(port), options=CHANNEL_OPTIONS)
            await client.connect()
            self._clients[endpoint] = client
        return client

    def _rotate(self, failed: str) -> None:
        # Only move on if no concurrent caller has moved already.
        if self.endpoints[self._current] == failed:
            self._current = (self._current + 1) % len(self.endpoints)

    async def _failover(
        self,
        what: str,
        attempt: Callable[[Any, float], Awaitable[T]],
        write: bool,
    ) -> tuple[T, bool]:
        """Run ``attempt`` on the current endpoint, moving on after each failure until
        ``timeout`` has passed. Returns the answer and whether an earlier attempt of a
        write may have been applied.

        When every member refused the connection twice running, nothing listens at any
        address (a wrong URL, a stopped cluster): waiting out the timeout would only
        delay the same error, so it comes at once. A member that is merely slow or
        leaderless does not refuse, and keeps the full timeout to recover."""
        deadline = self._loop.time() + self.timeout
        errors: dict[str, str] = {}
        ambiguous = False
        tries = refusals = 0
        while True:
            endpoint = self.endpoints[self._current]
            left = deadline - self._loop.time()
            try:
                per_try = min(ATTEMPT_TIMEOUT, max(left, 0.1))
                return await self._attempt(attempt, endpoint, per_try), ambiguous
            except _Retry as exc:
                errors[endpoint] = exc.detail
                ambiguous = ambiguous or (write and exc.maybe_applied)
                refusals = refusals + 1 if exc.refused else 0
            self._rotate(endpoint)
            tries += 1
            refused = refusals >= 2 * len(self.endpoints)
            if self._loop.time() >= deadline or refused:
                raise self._unavailable(what, errors, write and ambiguous, refused)
            if tries % len(self.endpoints) == 0:
                # Every member failed once: give an election time to finish.
                await asyncio.sleep(min(0.05 * (tries // len(self.endpoints)), 0.5))

    async def _attempt(
        self, attempt: Callable[[Any, float], Awaitable[T]], endpoint: str, timeout: float
    ) -> T:
        """One call on one member, with the driver's exceptions sorted into "try again
        (maybe elsewhere)" and final errors."""
        try:
            client = await self._client(endpoint)
            return await asyncio.wait_for(attempt(client, timeout), timeout + 0.5)
        except rpc.AioRpcError as exc:
            raise _translate(exc) from exc
        except TimeoutError as exc:
            raise _Retry(f"no answer within {timeout:.1f}s", maybe_applied=True) from exc
        except Exception as exc:
            # Anything else from the driver (a broken channel, a closed socket) is a
            # connection problem too: retry until the deadline, then report it.
            raise _Retry(f"{type(exc).__name__}: {exc}", maybe_applied=True) from exc

    def _unavailable(
        self, what: str, errors: dict[str, str], ambiguous: bool, refused: bool
    ) -> StoreUnavailable:
        tried = "; ".join(f"{ep}: {errors.get(ep, 'not reached')}" for ep in self.endpoints)
        hint = (
            "Check that a majority of these etcd members run and reach each other "
            f"(etcdctl --endpoints={','.join(self.endpoints)} endpoint health), then retry."
        )
        if ambiguous:
            hint += " The write may or may not have been applied: read it back before retrying."
        how = "every member refused the connection" if refused else f"within {self.timeout:g}s"
        return StoreUnavailable(
            f"etcd did not complete {what} ({how}) at any of {', '.join(self.endpoints)} "
            f"({tried}).",
            hint=hint,
        )


def _translate(exc: Any) -> Exception:
    code, details = exc.code(), str(exc.details() or "")
    if code in _RETRIABLE:
        # A refused connection never reached etcd; anything else might have.
        if "refused" in details.lower() or "failed to connect" in details.lower():
            return _Retry("connection refused", maybe_applied=False, refused=True)
        return _Retry(f"{code.name.lower()}: {details[:200]}", maybe_applied=True)
    if code == _CODES.OUT_OF_RANGE:
        return Compacted(f"etcd compacted the revision asked for ({details}).")
    if code == _CODES.NOT_FOUND and "lease" in details:
        return LeaseGone(f"The lease expired before the write arrived ({details}).")
    if code in (_CODES.UNAUTHENTICATED, _CODES.PERMISSION_DENIED):
        return StoreUnavailable(
            f"etcd refused access: {details}.",
            hint="This backend does not authenticate; use a cluster without auth enabled.",
        )
    return StoreUnavailable(
        f"etcd refused the request ({code.name}): {details}.",
        hint="This is likely a berthing bug; please report it with this message.",
    )


async def _watch_stream(
    client: Any, key: bytes, range_end: bytes, start: int
) -> AsyncGenerator[tuple[int, list[WatchEvent]], None]:
    create = rpc.WatchCreateRequest(
        key=key, range_end=range_end, start_revision=start, progress_notify=True
    )
    done = asyncio.Event()

    async def requests() -> Any:
        yield rpc.WatchRequest(create_request=create)
        await done.wait()  # keep our side of the stream open

    call = rpc.WatchStub(client.channel).Watch(requests(), metadata=WATCH_METADATA)
    try:
        async for response in call:
            if response.compact_revision:
                raise Compacted(f"etcd compacted the history up to {response.compact_revision}.")
            if response.canceled:
                return  # e.g. the member lost its leader: resume elsewhere
            events = [_event(e) for e in response.events]
            if events:
                yield events[-1].kv.mod_revision, events
            elif not response.created:
                yield int(response.header.revision), []  # a progress notification
    finally:
        done.set()
        call.cancel()


def _event(e: Any) -> WatchEvent:
    kind: Literal["put", "delete"] = "delete" if e.type == rpc.Event.DELETE else "put"
    return WatchEvent(kind, _kv(e.kv))


def _kv(kv: Any) -> KeyValue:
    return KeyValue(
        bytes(kv.key), bytes(kv.value), int(kv.create_revision), int(kv.mod_revision), int(kv.lease)
    )


def _pb_compare(c: Compare) -> Any:
    message = rpc.Compare(
        key=c.key, range_end=c.range_end, target=_TARGETS[c.target], result=_RESULTS[c.op]
    )
    setattr(message, _FIELDS[c.target], c.value)
    return message


def _pb_op(op: Op) -> Any:
    if isinstance(op, Range):
        return rpc.RequestOp(
            request_range=rpc.RangeRequest(
                key=op.key,
                range_end=op.range_end,
                revision=op.revision,
                limit=op.limit,
                keys_only=op.keys_only,
                min_mod_revision=op.min_mod_revision,
            )
        )
    if isinstance(op, Put):
        return rpc.RequestOp(request_put=rpc.PutRequest(key=op.key, value=op.value, lease=op.lease))
    assert isinstance(op, Delete)
    return rpc.RequestOp(
        request_delete_range=rpc.DeleteRangeRequest(key=op.key, range_end=op.range_end)
    )


def _txn_result(response: Any, ambiguous: bool) -> TxnResult:
    ranges = [
        [_kv(kv) for kv in r.response_range.kvs]
        for r in response.responses
        if r.WhichOneof("response") == "response_range"
    ]
    return TxnResult(bool(response.succeeded), int(response.header.revision), ranges, ambiguous)
