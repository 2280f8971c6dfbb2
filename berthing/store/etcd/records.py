"""Versioned records: JSON documents whose revision is etcd's ``mod_revision``.

A record with a ``ttl`` is attached to a fresh etcd lease, so a heartbeat that is not
written again in time is deleted by etcd itself, even if its writer's host is gone.
``watch`` waits on a real etcd watch instead of polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import math

from berthing.model import GenerationConflict, JSONDoc
from berthing.store.etcd.kv import KV, WatchEvent
from berthing.store.etcd.layout import Keys, decode
from berthing.store.etcd.ops import KeyValue, Range, prefix_end
from berthing.store.etcd.stm import Attempt

__all__ = ["delete", "lease_seconds", "listing", "put", "to_doc", "wait_for_put"]


def lease_seconds(ttl: float) -> int:
    """etcd leases count whole seconds: round up, so a record never expires early."""
    return max(1, math.ceil(ttl))


def put(
    a: Attempt,
    k: Keys,
    kind: str,
    key: str,
    value: JSONDoc,
    expected: int | None,
    lease: int,
) -> int | None:
    """Stage the write; the revision if this operation's earlier attempt already landed."""
    name = k.record(kind, key)
    (current,) = a.get(name)
    if current is not None and decode(name, current.value).get("token") == a.token:
        return current.mod_revision
    actual = None if current is None else current.mod_revision
    if expected != actual:
        raise GenerationConflict(f"Record {kind}", key, expected, actual)
    a.put(name, {"value": value, "token": a.token}, lease)
    return None


def delete(a: Attempt, k: Keys, kind: str, key: str, expected: int | None) -> bool:
    (current,) = a.get(k.record(kind, key))
    if current is None:
        return a.ambiguous  # absent: False, unless our own earlier attempt deleted it
    if expected is not None and expected != current.mod_revision:
        raise GenerationConflict(f"Record {kind}", key, expected, current.mod_revision)
    a.delete(k.record(kind, key))
    return True


def to_doc(kv: KeyValue) -> tuple[JSONDoc, int]:
    """The record's document and revision; the envelope's ``token`` is ours, not its."""
    value = decode(kv.key, kv.value).get("value", {})
    return value, kv.mod_revision


def listing(
    kv: KV, k: Keys, kind: str, prefix: str, after_revision: int
) -> tuple[list[tuple[str, JSONDoc, int]], int]:
    """Live records under ``prefix`` newer than ``after_revision``, sorted by key, and the
    revision they were read at. Names are not validated on reads (as in SQLite): one
    that no write would accept simply matches nothing."""
    found = kv.read(
        [Range.prefix(k.records(kind, prefix), min_mod_revision=max(after_revision, 0) + 1)],
        "list_records",
    )
    return [
        (k.record_key(kind, item.key), *to_doc(item)) for item in found.ranges[0]
    ], found.revision


async def wait_for_put(kv: KV, start: bytes, from_revision: int, timeout: float) -> None:
    """Return when something under ``start`` is written at ``from_revision`` or later, or
    after ``timeout`` seconds."""
    written = asyncio.Event()

    def deliver(progress: int, events: list[WatchEvent]) -> None:
        if any(e.kind == "put" for e in events):
            written.set()

    watch = asyncio.ensure_future(kv.watch(start, prefix_end(start), from_revision, deliver))
    woken = asyncio.ensure_future(written.wait())
    try:
        # The watch itself only ends early if its history was compacted: the caller
        # lists again either way.
        await asyncio.wait({watch, woken}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (watch, woken):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
