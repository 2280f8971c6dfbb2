"""The record contract: small typed documents with compare-and-set, TTL and watch.

Build requests, instances, heartbeats, host stats, server groups and zones live here
(``berthing.model`` defines each kind). Callers pass and get typed values; the
contract encodes them to JSON documents once, here, and a backend stores documents.

What every implementation promises:

* **Revisions.** Every write gets a store-wide revision, higher than any before it.
  ``put`` with ``expected_revision`` writes only if the record is still at that
  revision (None: only if it does not exist); otherwise ``GenerationConflict``.
  Two writers can never both advance one record from the same revision.
* **TTL.** A record written with ``ttl`` disappears by itself unless written again
  within ``ttl`` seconds (never earlier; a backend may round up to whole seconds).
  Reads never return an expired record.
* **Watch.** ``watch`` returns records under a prefix written after a revision, waiting
  up to ``timeout`` if there are none yet. It may return early and empty; callers
  loop. Deletions are not reported.
* **Concurrency.** Every method may run at once from many threads and processes.
* **Idempotence.** ``delete`` of an absent record returns False. A backend that
  retries after an unknown outcome recognises its own earlier write.
* **Advice.** ``get_records`` of a kind whose class sets ``ADVISORY = True`` may be
  answered from a copy one watch delivery behind other writers (never behind the
  store's own writes): host stats, which only filters and weighers read.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Iterable

from berthing.model import (
    InvalidInput,
    JSONDoc,
    Record,
    decode_value,
    encode_value,
    validate_record_name,
)
from berthing.model.record import V

__all__ = ["RecordStore"]


class RecordStore(ABC):
    """Typed, versioned records under ``(kind, key)``."""

    #: Seconds between polls in the default ``_watch_docs``.
    poll_interval: float = 0.05

    def put_record(
        self, key: str, value: V, expected_revision: int | None = None, ttl: float | None = None
    ) -> Record[V]:
        """Create (``expected_revision`` None: must not exist) or replace (must still be
        at ``expected_revision``) the record; ``GenerationConflict`` otherwise. Returns
        it at its new revision."""
        validate_record_name("key", key)
        if ttl is not None and not (isinstance(ttl, int | float) and 0 < ttl < float("inf")):
            raise InvalidInput(f"Record ttl must be positive, finite seconds, got {ttl!r}.")
        revision = self._put_doc(value.KIND, key, encode_value(value), expected_revision, ttl)
        return Record(key, value, revision)

    def get_record(self, cls: type[V], key: str) -> Record[V] | None:
        """The record, or None if absent or expired."""
        return self.get_records(cls, [key]).get(key)

    def get_records(self, cls: type[V], keys: Iterable[str]) -> dict[str, Record[V]]:
        """Live records among ``keys``, by key, read together where the engine can."""
        wanted = sorted(set(keys))
        if not wanted:
            return {}
        if getattr(cls, "ADVISORY", False):
            found = self._get_advisory_docs(cls.KIND, wanted)
        else:
            found = self._get_docs(cls.KIND, wanted)
        return {k: _typed(cls, k, doc, rev) for k, (doc, rev) in found.items()}

    def list_records(
        self, cls: type[V], prefix: str = "", after_revision: int = 0
    ) -> list[Record[V]]:
        """Live records whose key starts with ``prefix`` and whose revision is above
        ``after_revision``, sorted by key."""
        return [
            _typed(cls, k, d, r) for k, d, r in self._list_docs(cls.KIND, prefix, after_revision)
        ]

    def delete_record(self, cls: type[V], key: str, expected_revision: int | None = None) -> bool:
        """Delete; False if absent. ``GenerationConflict`` if ``expected_revision`` is stale."""
        return self._delete_doc(cls.KIND, key, expected_revision)

    def watch_records(
        self, cls: type[V], prefix: str, after_revision: int, timeout: float
    ) -> list[Record[V]]:
        """Wait up to ``timeout`` seconds for records under ``prefix`` written after
        ``after_revision``; return them (possibly none)."""
        found = self._watch_docs(cls.KIND, prefix, after_revision, timeout)
        return [_typed(cls, k, d, r) for k, d, r in found]

    # -- what a backend implements ----------------------------------------------------

    @abstractmethod
    def _put_doc(
        self, kind: str, key: str, doc: JSONDoc, expected: int | None, ttl: float | None
    ) -> int:
        """Write under the revision check; return the new revision."""

    @abstractmethod
    def _get_docs(self, kind: str, keys: list[str]) -> dict[str, tuple[JSONDoc, int]]:
        """Live documents among ``keys`` with their revisions."""

    def _get_advisory_docs(self, kind: str, keys: list[str]) -> dict[str, tuple[JSONDoc, int]]:
        """Documents of an advisory kind (its class sets ``ADVISORY = True``): their
        readers take them as advice, so a backend may answer from a copy that lags one
        watch delivery behind. By default, the same as ``_get_docs``."""
        return self._get_docs(kind, keys)

    @abstractmethod
    def _list_docs(self, kind: str, prefix: str, after: int) -> list[tuple[str, JSONDoc, int]]:
        """Live (key, document, revision) under ``prefix`` newer than ``after``, by key."""

    @abstractmethod
    def _delete_doc(self, kind: str, key: str, expected: int | None) -> bool: ...

    def _watch_docs(
        self, kind: str, prefix: str, after: int, timeout: float
    ) -> list[tuple[str, JSONDoc, int]]:
        """Polls; a backend with a native watch (etcd) overrides it so that an agent hears
        of its work without a broker and without busy polling."""
        deadline = time.monotonic() + timeout
        while True:
            found = self._list_docs(kind, prefix, after)
            left = deadline - time.monotonic()
            if found or left <= 0:
                return found
            time.sleep(min(self.poll_interval, left))


def _typed(cls: type[V], key: str, doc: JSONDoc, revision: int) -> Record[V]:
    return Record(key, decode_value(cls, doc, key), revision)
