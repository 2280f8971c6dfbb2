"""Synthetic clouds and workloads for the benchmark and the demo.

Everything here talks to the store contracts and the scheduler's public API only,
so that it runs unchanged against any backend.
"""

__all__: list[str] = []
