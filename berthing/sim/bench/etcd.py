"""The etcd side of ``berthing bench scheduler --store``: the cluster, one cloud per size
under its own key prefix, and the compare-and-set cycle of the anchor.

``--store etcd://h:p,h:p,h:p[/prefix]`` uses a running cluster; ``--store etcd-local``
starts a throwaway 3-member cluster on 127.0.0.1 (``berthing.devtools.etcd_cluster``) under
``--store-dir`` for the duration of the run and stops and removes it afterwards.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from berthing.devtools.etcd_cluster import EtcdCluster
from berthing.model import InvalidInput
from berthing.sim.bench.anchor import Anchor, Cycle, measure
from berthing.sim.bench.sites import Say, Site
from berthing.store.etcd.config import parse_url
from berthing.store.etcd.kv import KV
from berthing.store.etcd.ops import Compare, Delete, Put, Range, prefix_end

__all__ = ["CYCLE", "LOCAL", "EtcdSite", "etcd_site"]

#: ``--store`` value that starts a throwaway local cluster.
LOCAL = "etcd-local"
CYCLE = "read + txn comparing mod_revision, put"


class EtcdSite(Site):
    """A cluster to benchmark on: its URL parts, and every prefix this invocation wrote
    (deleted when it ends)."""

    engine = "etcd"

    def __init__(
        self,
        endpoints: Sequence[str],
        prefix: str,
        query: str = "",
        pids: Sequence[int] = (),
        local: bool = False,
    ) -> None:
        super().__init__(local, pids)
        self.endpoints, self.prefix, self.query = tuple(endpoints), prefix, query
        self.prefixes: list[str] = []

    def url(self, name: str) -> str:
        prefix = f"{self.prefix}-{name}"
        self.prefixes.append(prefix)
        query = f"?{self.query}" if self.query else ""
        return f"etcd://{','.join(self.endpoints)}/{prefix}{query}"

    def anchor(self, say: Say) -> Anchor:
        """Through the backend's own client (``berthing.store.etcd.kv.KV``: aetcd driven
        from sync code), each client its own key under a prefix of the run's."""
        self.prefixes.append(f"{self.prefix}-cas")
        params = (self.endpoints, f"/{self.prefix}-cas/")
        return measure(self.engine, CYCLE, _cas_client, params, progress=say)

    def clean_up(self) -> None:
        kv = KV(self.endpoints, 10.0)
        try:
            for prefix in self.prefixes:
                key = f"/{prefix}/".encode()
                kv.txn((), [Delete(key, prefix_end(key))], what="deleting a bench prefix")
        finally:
            kv.close()


@contextmanager
def etcd_site(spec: str, store_dir: Path, stamp: str, say: Say) -> Iterator[EtcdSite]:
    """The cluster ``spec`` names (``etcd://...`` or ``etcd-local``), for a ``with``."""
    if spec == LOCAL:
        data = store_dir / f"etcd-{stamp}"
        cluster = EtcdCluster(data)
        try:
            say("etcd: starting a local 3-member cluster")
            cluster.start()
            pids = [m.process.pid for m in cluster.members if m.process is not None]
            yield EtcdSite(cluster.endpoints, f"bench-{stamp}", pids=pids, local=True)
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
    site = EtcdSite(config.endpoints, f"{config.prefix}-bench-{stamp}", spec.partition("?")[2])
    try:
        yield site
    finally:
        site.clean_up()


@contextmanager
def _cas_client(params: tuple[tuple[str, ...], str], index: int) -> Iterator[Cycle]:
    endpoints, prefix = params
    kv = KV(endpoints, 10.0)
    try:
        key = f"{prefix}{index}".encode()
        kv.txn((), [Put(key, b"0")])
        yield lambda: _cycle(kv, key)
    finally:
        kv.close()


def _cycle(kv: KV, key: bytes) -> bool:
    [[current]] = kv.read([Range(key)]).ranges
    done = kv.txn([Compare(key, "mod", "==", current.mod_revision)], [Put(key, current.value)])
    if not done.succeeded:
        raise InvalidInput(f"CAS on {key!r} lost to nobody: {done}")
    return True
