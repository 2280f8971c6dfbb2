"""Hosts out of service: dead ones (a heartbeat expired: disabled by the reaper, their
in-flight builds failed) and those an operator disables.

Disabling is the ``COMPUTE_STATUS_DISABLED`` trait, which every candidate query forbids
(as Nova does for Placement). The agent clears a reaper's mark when it registers again,
but keeps an operator's (``HostAdmin``) until an operator enables the host. A failed
build is rescheduled by the conductor's normal path.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import time
from dataclasses import dataclass

from berthing.model import (
    DISABLED_TRAIT,
    FailureCause,
    GenerationConflict,
    Heartbeat,
    HostAdmin,
    HostStats,
    Instance,
    InstanceState,
    ProviderNotFound,
)
from berthing.runtime import retry_conflicts
from berthing.store import Store

__all__ = ["Reaped", "disable", "reap", "set_disabled"]

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


def set_disabled(store: Store, host: str, disabled: bool, reason: str = "", by: str = "") -> None:
    """An operator disables or enables ``host``: the record first (so an agent
    registering meanwhile keeps the mark), then the trait."""
    p = store.get_provider(host)  # ProviderNotFound before anything is written
    admin = HostAdmin(disabled, reason if disabled else "", by, time.time())

    def record() -> None:
        current = store.get_record(HostAdmin, host)
        store.put_record(host, admin, None if current is None else current.revision)

    def trait() -> None:
        p = store.get_provider(host)
        traits = p.traits | {DISABLED_TRAIT} if disabled else p.traits - {DISABLED_TRAIT}
        if traits != p.traits:
            store.set_traits(host, p.generation, traits)

    retry_conflicts(f"recording that {host} is {'disabled' if disabled else 'enabled'}", record)
    retry_conflicts(f"{'disabling' if disabled else 'enabling'} host {p.name}", trait)
