"""The etcd side of ``berthing bench scheduler --store``: the cluster, one cloud per size
under its own key prefix, resetting that cloud between runs, and the compare-and-set
anchor the etcd runs are judged against.

``--store etcd://h:p,h:p,h:p[/prefix]`` uses a running cluster; ``--store etcd-local``
starts a throwaway 3-member cluster on 127.0.0.1 (``berthing.devtools.etcd_cluster``) under
``--store-dir`` for the duration of the run and stops and removes it afterwards.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from berthing.devtools.etcd_cluster import EtcdCluster
from berthing.model import InvalidInput
from berthing.sim.cloud import CloudSummary, build_cloud
from berthing.store import open_store
from berthing.store.etcd.config import parse_url
from berthing.store.etcd.kv import KV
from berthing.store.etcd.ops import Compare, Delete, Put, Range, prefix_end

__all__ = ["LOCAL", "Anchor", "EtcdSite", "cas_anchor", "etcd_site"]

#: ``--store`` value that starts a throwaway local cluster.
LOCAL = "etcd-local"
#: Seconds each CAS measurement runs (after its clients met at a barrier).
CAS_SECONDS = 3.0
CAS_CLIENTS = (1, 4)
_JOIN = 30.0


@dataclass
class EtcdSite:
    """A cluster to benchmark on: its URL parts, and the member processes' ids when we
    started it ourselves (their CPU is the store's, not a disturbance)."""

    endpoints: tuple[str, ...]
    prefix: str
    query: str = ""
    pids: list[int] = field(default_factory=list)
    local: bool = False
    prefixes: list[str] = field(default_factory=list)
    """Every prefix this invocation wrote, deleted when it ends."""

    def url(self, suffix: str) -> str:
        prefix = f"{self.prefix}-{suffix}"
        self.prefixes.append(prefix)
        query = f"?{self.query}" if self.query else ""
        return f"etcd://{','.join(self.endpoints)}/{prefix}{query}"

    def members_cpu_s(self) -> float | None:
        """CPU seconds the local members have used so far (None for a remote cluster)."""
        if not self.pids:
            return None
        total = 0.0
        for pid in self.pids:
            total += _process_cpu_s(pid)
        return total

    def clean_up(self) -> None:
        kv = KV(self.endpoints, 10.0)
        try:
            for prefix in self.prefixes:
                key = f"/{prefix}/".encode()
                kv.txn((), [Delete(key, prefix_end(key))], what="deleting a bench prefix")
        finally:
            kv.close()


@contextmanager
def etcd_site(spec: str, store_dir: Path, stamp: str) -> Iterator[EtcdSite]:
    """The cluster ``spec`` names (``etcd://...`` or ``etcd-local``), for a ``with``."""
    if spec == LOCAL:
        data = store_dir / f"etcd-{stamp}"
        cluster = EtcdCluster(data)
        try:
            cluster.start()
            pids = [m.process.pid for m in cluster.members if m.process is not None]
            yield EtcdSite(tuple(cluster.endpoints), f"bench-{stamp}", pids=pids, local=True)
        finally:
            cluster.stop()
            shutil.rmtree(data, ignore_errors=True)
        return
    if not spec.startswith("etcd://"):
        raise InvalidInput(
            f"--store {spec!r} is not an etcd cluster.",
            hint=f"Use etcd://host:port,host:port,host:port[/prefix] or {LOCAL}.",
        )
    config = parse_url(spec)
    query = spec.partition("?")[2]
    site = EtcdSite(config.endpoints, f"{config.prefix}-bench-{stamp}", query)
    try:
        yield site
    finally:
        site.clean_up()


def build_etcd_cloud(
    site: EtcdSite, size: int, seed: int, progress: Callable[[int], None]
) -> tuple[str, CloudSummary]:
    """Build the cloud of ``size`` providers once into its own prefix; its URL."""
    url = site.url(f"cloud-{size}-seed{seed}")
    with open_store(url) as store:
        summary = build_cloud(store, size, seed, progress)
    return url, summary


def reset(url: str, consumers: Iterable[str], progress: Callable[[int], None]) -> int:
    """Return the cloud at ``url`` to its initial state by releasing every consumer the
    previous run placed (the workers report them).

    Measured on the loopback cluster: building a fresh prefix costs about 12 s per 1k
    providers (each registration is several transactions; ``bulk()`` is a no-op on
    etcd), so 2 minutes at 10k, per run; releasing costs about 4.5 ms per consumer,
    about 10-30 s for a run's few thousand placements, whatever the cloud's size. The
    catalogue state after the release (usages back to zero, provider generations
    higher) decides placements exactly as the fresh cloud would: generations are only
    compared, never weighed. Server groups are new uuids per run, so need no reset.
    """
    done = 0
    with open_store(url) as store:
        for consumer in consumers:
            store.release(consumer)
            done += 1
            if done % 100 == 0:
                progress(done)
    progress(done)
    return done


# -- the anchor: a bare compare-and-set cycle -----------------------------------------


@dataclass(frozen=True, slots=True)
class Anchor:
    """Bare CAS cycles per second (read a key, then a txn comparing its mod_revision
    and putting it), by number of concurrent client processes."""

    rates: dict[int, float]
    seconds: float

    def to_dict(self) -> dict[str, Any]:
        return {"cas_per_s": {str(k): v for k, v in self.rates.items()}, "seconds": self.seconds}


def cas_anchor(
    site: EtcdSite, clients: Sequence[int] = CAS_CLIENTS, seconds: float = CAS_SECONDS
) -> Anchor:
    """CAS cycles per second with each number of ``clients`` (one process each, every
    client its own key: no conflicts, as for placements on a large cloud), through the
    backend's own client (``berthing.store.etcd.kv.KV``: aetcd driven from sync code)."""
    key = f"/{site.prefix}-cas/"
    site.prefixes.append(f"{site.prefix}-cas")
    return Anchor({n: _cas_rate(site.endpoints, key, n, seconds) for n in clients}, seconds)


def _cas_rate(endpoints: Sequence[str], prefix: str, clients: int, seconds: float) -> float:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(clients)
    results = ctx.Queue()
    procs = [
        ctx.Process(
            target=_cas_client,
            args=(tuple(endpoints), f"{prefix}{i}", seconds, barrier, results),
            name=f"bench-cas-{i}",
        )
        for i in range(clients)
    ]
    for p in procs:
        p.start()
    try:
        counts: list[tuple[int, float, float]] = []
        deadline = time.monotonic() + seconds + _JOIN
        while len(counts) < clients:
            try:
                item = results.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise InvalidInput("The CAS anchor's clients did not report.") from None
            if isinstance(item, str):
                raise InvalidInput(f"A CAS anchor client failed: {item}")
            counts.append(item)
    finally:
        for p in procs:
            p.join(_JOIN)
            if p.is_alive():
                p.terminate()
                p.join()
    wall = max(c[2] for c in counts) - min(c[1] for c in counts)
    return sum(c[0] for c in counts) / wall


def _cas_client(
    endpoints: tuple[str, ...], key: str, seconds: float, barrier: Barrier, results: Any
) -> None:
    kv = KV(endpoints, 10.0)
    try:
        raw = key.encode()
        kv.txn((), [Put(raw, b"0")])
        for _ in range(20):  # warm the channel
            _cycle(kv, raw)
        barrier.wait(_JOIN)
        started = time.time()
        stop, cycles = started + seconds, 0
        while time.time() < stop:
            _cycle(kv, raw)
            cycles += 1
        results.put((cycles, started, time.time()))
    except BaseException as exc:
        barrier.abort()
        results.put(f"{type(exc).__name__}: {exc}")
        raise
    finally:
        kv.close()


def _cycle(kv: KV, key: bytes) -> None:
    [[current]] = kv.read([Range(key)]).ranges
    done = kv.txn([Compare(key, "mod", "==", current.mod_revision)], [Put(key, current.value)])
    if not done.succeeded:
        raise InvalidInput(f"CAS on {key!r} lost to nobody: {done}")


def _process_cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
