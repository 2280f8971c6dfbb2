"""Real OS processes for the concurrency tests.

``spawn``: each worker is a fresh interpreter with its own store connection, as separate
schedulers, conductors or agents are; nothing is inherited through fork.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable
from multiprocessing.process import BaseProcess
from typing import Any

SPAWN = multiprocessing.get_context("spawn")


def start(target: Callable[..., object], arg_lists: Iterable[tuple[Any, ...]]) -> list[BaseProcess]:
    procs: list[BaseProcess] = [SPAWN.Process(target=target, args=args) for args in arg_lists]
    for p in procs:
        p.start()
    return procs


def join_ok(procs: Iterable[BaseProcess], timeout: float = 300) -> None:
    """Wait for every process; each must have exited cleanly."""
    for p in procs:
        p.join(timeout=timeout)
        assert p.exitcode == 0, f"{p.name} exited with {p.exitcode}"
