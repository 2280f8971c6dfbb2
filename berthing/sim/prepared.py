"""Prepared clouds: built, prefilled and registered once, copied for every run.

Every run of one seed and fill starts from the same cloud, byte for byte: both
designs, every scheduler count and both arrival patterns. On SQLite the prepared
store is a file, and a run starts on a copy of it, which takes milliseconds where
building it takes seconds. Another backend (etcd) is prepared afresh for each run,
by the same code, so it starts from the same cloud too.
"""

from __future__ import annotations

import hashlib
import shutil
import time
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from berthing.model import SHARING_TRAIT, Inventory, ProviderQuery
from berthing.scheduler import create_group
from berthing.scheduler.groups import zone_aggregate
from berthing.sim.cloud import ZONES, build_cloud, cloud_dump, fill_of, prefill
from berthing.sim.fleet import Fleet
from berthing.sim.workers import fleet_hosts
from berthing.sim.workload import make_groups
from berthing.store import Store, open_store

__all__ = ["Cloud", "Clouds", "prepare"]

POOL_DISK_GB = 500_000
PREPARED_HEARTBEAT_TTL = 86_400.0
"""A prepared cloud is copied for runs minutes later: its hosts' first heartbeats must
not have expired by then, or a conductor's first reap would disable every host."""


@dataclass(frozen=True, slots=True)
class Cloud:
    """A prepared cloud: what a run needs to know about where it starts."""

    seed: int
    target_fill: float
    fill: float
    """``fill_of`` reached by the prefill."""
    live: tuple[str, ...]
    """The prefilled instances, which the stream may delete."""
    sha256: str
    """Of ``cloud_dump`` after the prefill: equal digests, the same cloud."""
    seconds: float
    """Set-up time: building, prefilling and registering."""


def prepare(store: Store, hosts: int, seed: int, fill: float, pools: bool) -> Cloud:
    """Build the seeded cloud into an empty ``store``, prefill it and register its hosts
    as a fleet of agents would."""
    started = time.monotonic()
    build_cloud(store, hosts, seed)
    if pools:  # one shared storage pool per zone, for boot-from-volume requests
        for zone in ZONES:
            # A uuid from the seed and the name, as every host's: the same cloud, byte for byte.
            pool = store.create_provider(f"pool-{zone}", uuid=_seeded_uuid(seed, f"pool-{zone}"))
            pool = store.set_inventories(pool.uuid, 0, {"DISK_GB": Inventory(POOL_DISK_GB)})
            pool = store.set_traits(pool.uuid, pool.generation, [SHARING_TRAIT])
            store.set_aggregates(pool.uuid, pool.generation, [zone_aggregate(store, zone)])
    for group in make_groups(seed):
        create_group(store, group.policy, uuid=group.uuid)
    with store.bulk():
        live = prefill(store, seed, fill)
    digest = hashlib.sha256(cloud_dump(store)).hexdigest()
    _, descriptions = fleet_hosts(store)
    with store.bulk():
        Fleet(
            store, descriptions, lambda record: None, heartbeat_ttl=PREPARED_HEARTBEAT_TTL
        ).register()
    reached = fill_of(store.find_providers(ProviderQuery()))
    return Cloud(seed, fill, reached, tuple(live), digest, time.monotonic() - started)


class Clouds:
    """Prepared clouds for runs, by (seed, fill). On SQLite each is built once under
    ``directory`` and copied per run; ``store_url`` (another backend) prepares each run's
    store afresh under its own name."""

    def __init__(
        self,
        directory: Path,
        hosts: int,
        pools: bool,
        store_url: Callable[[str], str] | None = None,
    ) -> None:
        self.directory = directory
        self.hosts = hosts
        self.pools = pools
        self.store_url = store_url
        self._made: dict[tuple[int, float], tuple[Path, Cloud]] = {}
        self._fresh: list[Cloud] = []

    def open(self, seed: int, fill: float, run_name: str) -> tuple[str, Cloud]:
        """A store URL for one run, holding the prepared cloud, and what it holds."""
        if self.store_url is not None:
            url = self.store_url(run_name)
            with open_store(url) as store:
                self._fresh.append(prepare(store, self.hosts, seed, fill, self.pools))
            return url, self._fresh[-1]
        template, cloud = self._template(seed, fill)
        target = self._run_path(run_name)
        target.parent.mkdir(parents=True, exist_ok=True)
        _unlink(target)
        shutil.copyfile(template, target)
        return f"sqlite:///{target}", cloud

    def discard(self, run_name: str) -> None:
        """Remove a run's copy (SQLite): a sweep would otherwise keep hundreds."""
        _unlink(self._run_path(run_name))

    def _run_path(self, run_name: str) -> Path:
        return self.directory / "runs" / f"{run_name}.db"

    def _template(self, seed: int, fill: float) -> tuple[Path, Cloud]:
        key = (seed, fill)
        if key not in self._made:
            path = self.directory / "clouds" / f"seed{seed}-fill{round(fill * 100)}.db"
            path.parent.mkdir(parents=True, exist_ok=True)
            _unlink(path)
            with open_store(f"sqlite:///{path}") as store:
                cloud = prepare(store, self.hosts, seed, fill, self.pools)
            # Closing the last connection checkpoints the WAL into the file: one file
            # is the whole store, and a plain copy of it is a consistent one.
            if Path(f"{path}-wal").exists():
                raise AssertionError(f"{path}: write-ahead log left after close")
            self._made[key] = (path, cloud)
        return self._made[key]

    def prepared(self) -> list[Cloud]:
        """Every cloud prepared so far: one per (seed, fill) on SQLite, one per run else."""
        return [cloud for _, cloud in self._made.values()] + self._fresh


def _seeded_uuid(seed: int, name: str) -> str:
    return str(
        uuidlib.UUID(bytes=hashlib.sha256(f"{seed}/{name}".encode()).digest()[:16], version=4)
    )


def _unlink(db: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
