"""The remote engines of ``berthing bench scheduler --store``: where their clouds live.

``--store`` names the engines to run side by side with SQLite, comma-separated:
``etcd://h:p,h:p,h:p[/prefix]`` or ``etcd-local``, ``cassandra://h1,h2,h3[:port]/keyspace``
or ``cassandra-local[:port]`` (``sqlite`` may be named too; it always runs). A
``*-local`` engine is a throwaway 3-member cluster on 127.0.0.1 started for the run
under ``--store-dir`` and removed afterwards; a URL names a running cluster, in which
the benchmark writes only under names of its own and deletes them at the end.

Per engine, a ``Site`` builds one cloud per size, measures the engine's bare
compare-and-set anchor (``anchor.py``), and knows the processes of a cluster it
started (their CPU is the store's, not a disturbance). What is the same for every
engine (building a cloud through the Store contract, resetting it between runs) is
here; what differs is in ``etcd.py`` and ``cassandra.py``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from pathlib import Path
from typing import ClassVar

from berthing.model import InvalidInput
from berthing.sim.bench.anchor import Anchor
from berthing.sim.cloud import CloudSummary, build_cloud
from berthing.store import open_store

__all__ = ["ENGINES", "Say", "Site", "build_remote_cloud", "open_site", "parse_stores", "reset"]

#: ``--store`` engines in the order their runs come, after SQLite's.
ENGINES = ("etcd", "cassandra")
#: Releases in flight at once while resetting a cloud (each is a few round trips).
RESET_THREADS = 4

#: Shows what a long step is doing now (a progress line).
Say = Callable[[str], None]


class Site:
    """One engine's cluster for the duration of a benchmark."""

    engine: ClassVar[str]
    #: Threads registering providers at once (latency-bound engines gain from several).
    build_threads: ClassVar[int] = 1

    def __init__(self, local: bool, pids: Sequence[int] = ()) -> None:
        self.local = local
        self.pids = list(pids)

    def url(self, name: str) -> str:
        """The URL of a store called ``name`` on this cluster, deleted by ``clean_up``."""
        raise NotImplementedError

    def anchor(self, say: Say) -> Anchor:
        """The engine's bare compare-and-set anchor, measured now on this cluster."""
        raise NotImplementedError

    def clean_up(self) -> None:
        """Delete what the benchmark wrote on a cluster it did not start."""

    def members_cpu_s(self) -> float | None:
        """CPU seconds the local members have used so far (None for a remote cluster)."""
        if not self.pids:
            return None
        return sum(_process_cpu_s(pid) for pid in self.pids)


def parse_stores(values: Iterable[str]) -> tuple[str, ...]:
    """``--store`` values as one spec per engine, in ``ENGINES`` order. A comma inside a
    URL's host list stays with its URL: a new spec starts only at a known engine."""
    specs: list[str] = []
    for value in values:
        for part in (p.strip() for p in value.split(",")):
            if not part:
                continue
            if _engine_of(part) is not None or part == "sqlite" or not specs:
                specs.append(part)
            else:
                specs[-1] += f",{part}"
    remote = [s for s in specs if s != "sqlite"]
    for spec in remote:
        if _engine_of(spec) is None:
            raise InvalidInput(
                f"--store {spec!r} is not an engine the benchmark knows.",
                hint="Use sqlite, etcd-local, etcd://host:port,..., cassandra-local[:port] or "
                "cassandra://host,host,host[:port]/keyspace.",
            )
    engines = [_engine_of(s) for s in remote]
    if len(set(engines)) < len(engines):
        raise InvalidInput("--store names one engine twice.", hint="Name each engine once.")
    return tuple(sorted(remote, key=lambda s: ENGINES.index(str(_engine_of(s)))))


def _engine_of(spec: str) -> str | None:
    for engine in ENGINES:
        if spec.startswith((f"{engine}://", f"{engine}-local")):
            return engine
    return None


def open_site(spec: str, store_dir: Path, stamp: str, say: Say) -> AbstractContextManager[Site]:
    """The cluster ``spec`` names, for a ``with``: started (and stopped) if local."""
    if _engine_of(spec) == "etcd":
        from berthing.sim.bench.etcd import etcd_site

        return etcd_site(spec, store_dir, stamp, say)
    from berthing.sim.bench.cassandra import cassandra_site

    return cassandra_site(spec, store_dir, stamp, say)


def build_remote_cloud(
    site: Site, size: int, seed: int, progress: Callable[[int], None]
) -> tuple[str, CloudSummary]:
    """Build the cloud of ``size`` providers once into a store of its own; its URL."""
    url = site.url(f"cloud-{size}-seed{seed}")
    with open_store(url) as store:
        summary = build_cloud(store, size, seed, progress, threads=site.build_threads)
    return url, summary


def reset(url: str, consumers: Sequence[str], progress: Callable[[int], None]) -> int:
    """Return the cloud at ``url`` to its initial state by releasing every consumer the
    previous run placed (the workers report them).

    Building a fresh cloud per run would cost far more: registering a provider is
    several compare-and-sets (on the loopback etcd cluster about 12 s per 1k providers,
    2 minutes at 10k; on Cassandra several times that), while a release is a few round
    trips per consumer, whatever the cloud's size. The catalogue state after the
    release (usages back to zero, provider generations higher) decides placements
    exactly as the fresh cloud would: generations are only compared, never weighed.
    Server groups are new uuids per run, so need no reset.
    """
    done = 0
    with open_store(url) as store, ThreadPoolExecutor(RESET_THREADS) as pool:
        for _ in pool.map(store.release, consumers):
            done += 1
            if done % 100 == 0:
                progress(done)
    progress(done)
    return done


def _process_cpu_s(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
