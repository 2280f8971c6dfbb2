"""Timing of store calls, from outside: wrap one store object's bound methods so that
neither a store nor its callers carry measuring code (the benchmark's phases, the
server's Prometheus histogram of store latency by operation)."""

from __future__ import annotations

import functools
import threading
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
    store: Store,
    observe: Callable[[str, float], None],
    operations: Iterable[str] = OPERATIONS,
    nested: bool = True,
) -> None:
    """Call ``observe(operation, seconds)`` after every call of ``operations``.

    ``nested=False`` observes only the outermost of timed calls made inside one another
    on one thread (``get_record`` is ``get_records`` underneath): a split of a caller's
    time by operation then adds up to no more than that time.
    """
    depth = threading.local()
    for name in operations:
        setattr(store, name, _timed(getattr(store, name), name, observe, None if nested else depth))


def _timed(
    call: Callable[..., Any],
    name: str,
    observe: Callable[[str, float], None],
    depth: threading.local | None,
) -> Callable[..., Any]:
    @functools.wraps(call)
    def timed(*args: Any, **kwargs: Any) -> Any:
        level = getattr(depth, "level", 0)
        if depth is not None:
            depth.level = level + 1
        started = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            if depth is not None:
                depth.level = level
            if level == 0:
                observe(name, time.perf_counter() - started)

    return timed
