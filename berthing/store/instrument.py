"""Timing of store calls, from outside: wrap one store object's bound methods so that
neither a store nor its callers carry measuring code (the benchmark's phases, the
server's Prometheus histogram of store latency by operation)."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterable
from typing import Any

from berthing.store.base import Store

__all__ = ["OPERATIONS", "instrument"]

#: The calls worth timing: the scheduler's hot path and the records around it.
OPERATIONS = (
    "find_providers",
    "shape",
    "claim",
    "commit",
    "release",
    "get_record",
    "get_records",
    "put_record",
    "list_records",
)


def instrument(
    store: Store, observe: Callable[[str, float], None], operations: Iterable[str] = OPERATIONS
) -> None:
    """Call ``observe(operation, seconds)`` after every call of ``operations``."""
    for name in operations:
        setattr(store, name, _timed(getattr(store, name), name, observe))


def _timed(
    call: Callable[..., Any], name: str, observe: Callable[[str, float], None]
) -> Callable[..., Any]:
    @functools.wraps(call)
    def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            observe(name, time.perf_counter() - started)

    return timed
