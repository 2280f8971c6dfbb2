"""The Cassandra store: the store contracts on a replicated Apache Cassandra cluster
(docs/cassandra.md).

Opened through ``store.url.open_store`` (``cassandra://...``), which imports ``backend``
only then, so that nothing else pays for loading the driver.
"""

__all__: list[str] = []
