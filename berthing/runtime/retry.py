"""One way to retry a compare-and-set that lost a race.

Everything that read-modify-writes a record or a provider under a revision check
(heartbeats, group membership, build requests, host traits) goes through here, so
every retry loop has a bounded budget, backs off with jitter (racers that collided
once should not collide again in lockstep), and says so in the log when it gives up.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from berthing.model import GenerationConflict

__all__ = ["retry_conflicts"]

T = TypeVar("T")
log = logging.getLogger(__name__)

FIRST_DELAY = 0.002
MAX_DELAY = 0.1


def retry_conflicts(what: str, attempt: Callable[[], T], *, budget: int = 10) -> T:
    """Call ``attempt`` (which reads, decides and writes under a revision check) until
    it does not raise ``GenerationConflict``, at most ``budget`` times.

    The last conflict is re-raised after a warning naming ``what``: the caller knows
    whether to drop the work or fail louder.
    """
    delay = FIRST_DELAY
    for tries in range(1, budget + 1):
        try:
            return attempt()
        except GenerationConflict:
            if tries == budget:
                log.warning("gave up on %s after %d conflicting writes", what, budget)
                raise
        time.sleep(random.uniform(0, delay))
        delay = min(delay * 2, MAX_DELAY)
    raise AssertionError("unreachable: the loop returns or raises")
