"""Timing store calls from outside (``berthing.store.instrument``)."""

from __future__ import annotations

from berthing.model import HostStats
from berthing.store import open_store
from berthing.store.instrument import instrument


def _observed(nested: bool) -> list[str]:
    seen: list[str] = []
    with open_store("sqlite://") as store:
        instrument(store, lambda op, seconds: seen.append(op), nested=nested)
        store.get_record(HostStats, "host-1")  # get_records underneath
        store.get_records(HostStats, ["host-1", "host-2"])
    return seen


def test_every_call_is_observed_by_default() -> None:
    assert _observed(nested=True) == ["get_records", "get_record", "get_records"]


def test_a_call_inside_another_counts_once_when_asked() -> None:
    """What the benchmark's split of a request's time by phase needs: no double count."""
    assert _observed(nested=False) == ["get_record", "get_records"]
