"""Dead hosts: a host whose heartbeat expired is disabled, and its in-flight builds fail.

Disabling is the ``COMPUTE_STATUS_DISABLED`` trait, which every candidate query forbids
(as Nova does for Placement); the agent clears it when it registers again. A failed
build is then rescheduled by the conductor's normal path.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from dataclasses import dataclass

from berthing.model import (
    DISABLED_TRAIT,
    FailureCause,
    GenerationConflict,
    Heartbeat,
    HostStats,
    Instance,
    InstanceState,
    ProviderNotFound,
)
from berthing.runtime import retry_conflicts
from berthing.store import Store

__all__ = ["Reaped", "disable", "reap"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Reaped:
    hosts: list[str]
    """Hosts found without a heartbeat."""
    disabled: list[str]
    """Those this call disabled (the others were disabled already)."""


def reap(store: Store, hosts: list[str] | None = None) -> Reaped:
    """Check ``hosts`` (default: every host that reports stats, i.e. has an agent)."""
    if hosts is None:
        hosts = [r.key for r in store.list_records(HostStats)]
    alive = {r.key for r in store.list_records(Heartbeat)}
    down = [h for h in hosts if h not in alive]
    disabled = [h for h in down if disable(store, h)]
    for host in down:
        _fail_builds(store, host)
    return Reaped(down, disabled)


def disable(store: Store, host: str) -> bool:
    """Give ``host`` the disabled trait; False if it had it already or is gone."""

    def attempt() -> bool:
        p = store.get_provider(host)
        if DISABLED_TRAIT in p.traits:
            return False
        store.set_traits(host, p.generation, p.traits | {DISABLED_TRAIT})
        return True

    try:
        return retry_conflicts(f"disabling host {host}", attempt)
    except ProviderNotFound:
        log.info("host %s was deleted before it could be disabled", host)
        return False


def _fail_builds(store: Store, host: str) -> None:
    for rec in store.list_records(Instance, f"{host}/"):
        if rec.value.state is InstanceState.BUILD:
            failed = dataclasses.replace(
                rec.value,
                state=InstanceState.FAILED,
                error="host stopped heartbeating",
                cause=FailureCause.HOST_DOWN,
            )
            with contextlib.suppress(GenerationConflict):  # the host answered after all
                store.put_record(rec.key, failed, rec.revision)
