"""Optimistic transactions: read a snapshot, decide, write only if nothing read moved.

An operation is a function of one ``Attempt``. It reads keys (all at one pinned
revision, so it sees one snapshot), decides, and stages writes. ``Transactor.run``
then sends ONE etcd transaction that compares the ``mod_revision`` of every key read
(and any range guards) and applies every staged write at once. If a compare fails,
the failure branch of that same transaction returns the fresh values, and the
operation runs again on them: it either finds a real conflict in the new data (a
claim that no longer fits returns ``ClaimConflict``; a stale generation raises), or
commits. So the retry happens exactly when a compare failed for a reason that is not
a conflict of the caller's (another claim changed a usage that still has room), and
the decision is always made on the data the write is conditioned on.

Because every commit compares at least one key it writes, an attempt re-sent after a
connection error can never apply twice; operations recognise their own earlier,
possibly applied attempt by the ``token`` they write into their documents.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from berthing.model import BerthingError, StoreUnavailable
from berthing.store.etcd.kv import KV, Compacted
from berthing.store.etcd.layout import decode, encode
from berthing.store.etcd.ops import Compare, Delete, KeyValue, Op, Put, Range, prefix_end

__all__ = ["Attempt", "Done", "Transactor"]

T = TypeVar("T")

#: etcd's default --max-txn-ops is 128; stay under it when batching reads.
MAX_OPS = 120
#: How long one operation may keep losing compare-and-set races before giving up.
CONTENTION_LIMIT = 30.0


class Attempt:
    """One try of an operation: a pinned snapshot, its read set, guards and writes."""

    def __init__(
        self,
        kv: KV,
        what: str,
        token: str,
        ambiguous: bool,
        cache: dict[bytes, KeyValue | None],
        revision: int,
        seed: dict[bytes, KeyValue | None] | None = None,
    ) -> None:
        self.kv = kv
        self.what = what
        #: Unique per operation (not per attempt): marks documents this call wrote.
        self.token = token
        #: True if an earlier attempt of this operation may have been applied.
        self.ambiguous = ambiguous
        self.revision = revision
        self.reads: dict[bytes, KeyValue | None] = {}
        self._cache = cache
        self._seed = seed or {}
        #: Something was read from the seed (the store's index), not from etcd.
        self.unverified = False
        self.guards: list[Compare] = []
        self.writes: dict[bytes, Op] = {}

    # -- reading --------------------------------------------------------------------------

    def get(self, *keys: bytes) -> list[KeyValue | None]:
        """The keys as of this attempt's revision (one round trip for all missing ones)."""
        missing = [k for k in dict.fromkeys(keys) if k not in self.reads]
        if self._cache:
            for k in [k for k in missing if k in self._cache]:
                self.reads[k] = self._cache[k]
            missing = [k for k in missing if k not in self.reads]
        if self._seed:
            for k in [k for k in missing if k in self._seed]:
                self.reads[k] = self._seed[k]
                self.unverified = True
            missing = [k for k in missing if k not in self.reads]
        for start in range(0, len(missing), MAX_OPS):
            chunk = missing[start : start + MAX_OPS]
            found = self.kv.read([Range(k, revision=self.revision) for k in chunk], self.what)
            self.revision = self.revision or found.revision
            for k, kvs in zip(chunk, found.ranges, strict=True):
                self.reads[k] = kvs[0] if kvs else None
        return [self.reads[k] for k in keys]

    def docs(self, *keys: bytes) -> list[dict[str, Any] | None]:
        """Like ``get``, decoded as JSON objects (None where absent)."""
        return [None if kv is None else decode(kv.key, kv.value) for kv in self.get(*keys)]

    def doc(self, key: bytes) -> dict[str, Any] | None:
        return self.docs(key)[0]

    def scan(self, prefix: bytes, guard: bool = False) -> list[KeyValue]:
        """Every key under ``prefix`` at this revision. With ``guard`` the commit requires
        that nothing under it was written since (a key added there makes it run again);
        without, use it in read-only operations, or guard with ``empty``."""
        found = self.kv.read([Range.prefix(prefix, revision=self.revision)], self.what)
        self.revision = self.revision or found.revision
        if guard:
            self.guards.append(Compare(prefix, "mod", "<", self.revision + 1, prefix_end(prefix)))
        return found.ranges[0]

    def empty(self, prefix: bytes) -> bool:
        """True if nothing is under ``prefix``; the commit then requires it still is."""
        found = self.kv.read([Range.prefix(prefix, revision=self.revision, limit=1)], self.what)
        self.revision = self.revision or found.revision
        if found.ranges[0]:
            return False
        self.guards.append(Compare(prefix, "create", "==", 0, prefix_end(prefix)))
        return True

    # -- writing --------------------------------------------------------------------------

    def put(self, key: bytes, doc: dict[str, Any], lease: int = 0) -> None:
        self.writes[key] = Put(key, encode(doc), lease)

    def delete(self, key: bytes) -> None:
        self.writes[key] = Delete(key)

    def commit_ops(self) -> tuple[list[Compare], list[Op], list[Range]]:
        compares = [
            Compare(k, "mod", "==", 0 if kv is None else kv.mod_revision)
            for k, kv in self.reads.items()
        ]
        return compares + self.guards, list(self.writes.values()), [Range(k) for k in self.reads]


@dataclass(frozen=True, slots=True)
class Done(Generic[T]):
    value: T
    #: The commit's revision, or the snapshot's for an operation that wrote nothing.
    revision: int
    written: tuple[bytes, ...] = ()


class Transactor:
    """Runs operations as optimistic transactions against one ``KV``."""

    def __init__(self, kv: KV, on_commit: Callable[[Iterable[Op], int], None]) -> None:
        self.kv = kv
        self._on_commit = on_commit

    def run(
        self,
        what: str,
        body: Callable[[Attempt], T],
        seed: dict[bytes, KeyValue | None] | None = None,
    ) -> Done[T]:
        """Run ``body`` until its transaction lands. ``seed``: key-values the store's
        index believes current, read in place of etcd on the first attempt (saving a
        round trip); a decision taken on them is only trusted if it writes, and so is
        checked by the commit's compares. One that writes nothing, or fails, runs again
        on values read from etcd."""
        token = uuid.uuid4().hex
        cache: dict[bytes, KeyValue | None] = {}
        revision, ambiguous, lost = 0, False, 0
        started = time.monotonic()
        while True:
            attempt = Attempt(self.kv, what, token, ambiguous, cache, revision, seed)
            try:
                value = body(attempt)
            except Compacted:
                # The pinned revision was compacted between two reads: start afresh.
                cache, revision = {}, 0
                continue
            except BerthingError:
                if not attempt.unverified:
                    raise
                seed = None  # decided on the index's word: ask etcd itself
                continue
            if not attempt.writes and attempt.unverified:
                seed = None
                continue
            seed = None
            if not attempt.writes:
                return Done(value, attempt.revision)
            compares, writes, fresh = attempt.commit_ops()
            result = self.kv.txn(compares, writes, fresh, what)
            ambiguous = ambiguous or result.ambiguous
            if result.succeeded:
                self._on_commit(attempt.writes.values(), result.revision)
                return Done(value, result.revision, tuple(attempt.writes))
            # A compare failed: someone else wrote a key this decision read. That is not
            # yet a conflict for the caller (another claim may have taken only part of
            # the room), so decide again on the values the failure branch returned; the
            # body returns the real conflict if there is one, or commits this time.
            cache = {
                r.key: (kvs[0] if kvs else None)
                for r, kvs in zip(fresh, result.ranges, strict=True)
            }
            revision, lost = result.revision, lost + 1
            self._back_off(what, lost, started)

    @staticmethod
    def _back_off(what: str, lost: int, started: float) -> None:
        if time.monotonic() - started > CONTENTION_LIMIT:
            raise StoreUnavailable(
                f"{what} lost {lost} compare-and-set races in a row over "
                f"{CONTENTION_LIMIT:.0f}s; nothing was written.",
                hint="Too many writers are changing the same providers; retry later.",
            )
        if lost > 2:
            # Several losses in a row: many writers on the same keys. A little random
            # spacing lets one of them win instead of all retrying in lock-step.
            time.sleep(random.uniform(0, min(0.002 * 2**lost, 0.1)))
