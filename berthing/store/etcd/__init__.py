"""The etcd store: the store contracts on a replicated etcd cluster (docs/etcd.md).

Opened through ``store.url.open_store`` (``etcd://...``), which imports ``backend``
only then, so that nothing else pays for loading the gRPC driver.
"""

__all__: list[str] = []
