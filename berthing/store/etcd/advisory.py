"""Records of advisory kinds (``RecordValue.ADVISORY``: host stats) served from memory.

The scheduler reads every candidate host's stats on every pass; from etcd that is a
round trip per placement. Their readers take them as advice (a filter or weigher may
be a watch delivery late; a claim still decides), so each store keeps a copy of such a
kind, listed once and then kept current by a watch, plus its own writes at commit.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from concurrent.futures import Future

from berthing.model import JSONDoc, StoreUnavailable
from berthing.store.etcd.kv import KV, Compacted, WatchEvent
from berthing.store.etcd.layout import Keys
from berthing.store.etcd.ops import KeyValue, Op, Put, Range, prefix_end
from berthing.store.etcd.records import to_doc

__all__ = ["AdvisoryCopy"]


class AdvisoryCopy:
    """The live records of one kind: key -> (document, revision)."""

    def __init__(self, kv: KV, keys: Keys, kind: str) -> None:
        self._kv, self._keys, self._kind = kv, keys, kind
        self._prefix = keys.records(kind)
        self._docs: dict[str, tuple[JSONDoc, int]] = {}
        #: Revision of each key's last delete: a put the watch brings late (after this
        #: store applied its own delete) must not bring it back.
        self._gone: dict[str, int] = {}
        self._lock = threading.Lock()
        self._task: Future[None] | None = None

    def start(self) -> None:
        revision = self._kv.run(self._list())
        self._task = self._kv.spawn(self._follow(revision + 1))

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    def get(self, keys: Iterable[str]) -> dict[str, tuple[JSONDoc, int]]:
        with self._lock:
            return {k: self._docs[k] for k in keys if k in self._docs}

    def apply_own(self, writes: Iterable[Op], revision: int) -> None:
        with self._lock:
            for op in writes:
                if op.key.startswith(self._prefix):
                    self._set(op.key, op.value if isinstance(op, Put) else None, revision)

    async def _list(self) -> int:
        found = await self._kv.atxn((), [Range.prefix(self._prefix)], (), f"listing {self._kind}")
        with self._lock:
            self._docs.clear()
            for item in found.ranges[0]:
                self._set(item.key, item.value, item.mod_revision)
        return found.revision

    async def _follow(self, start: int) -> None:
        while True:
            try:
                await self._kv.watch(self._prefix, prefix_end(self._prefix), start, self._deliver)
            except Compacted:
                start = await self._relist() + 1

    async def _relist(self) -> int:
        while True:
            try:
                return await self._list()
            except StoreUnavailable:
                await asyncio.sleep(0.5)  # the cluster is down: the next list may work

    def _deliver(self, progress: int, events: list[WatchEvent]) -> None:
        with self._lock:
            for e in events:
                self._set(e.kv.key, e.kv.value if e.kind == "put" else None, e.kv.mod_revision)

    def _set(self, raw_key: bytes, value: bytes | None, revision: int) -> None:
        key = self._keys.record_key(self._kind, raw_key)
        current = self._docs.get(key)
        if max(current[1] if current else 0, self._gone.get(key, 0)) >= revision:
            return  # our own write, seen already
        if value is None:
            self._docs.pop(key, None)
            self._gone[key] = revision
        else:
            self._docs[key] = to_doc(KeyValue(raw_key, value, 0, revision))
