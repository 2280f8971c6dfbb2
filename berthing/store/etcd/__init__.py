"""The etcd store: the store contract on a replicated etcd cluster (docs/etcd.md).

``EtcdStore`` is imported lazily so that the cluster harness (``cluster.py``) works
without loading the gRPC driver.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from berthing.store.etcd.backend import EtcdStore

__all__ = ["EtcdStore"]


def __getattr__(name: str) -> Any:
    if name == "EtcdStore":
        from berthing.store.etcd.backend import EtcdStore

        return EtcdStore
    raise AttributeError(name)
