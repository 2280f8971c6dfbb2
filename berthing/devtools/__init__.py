"""Development and test machinery: local clusters of real servers, for tests, demos and
benchmarks. The product never imports it at run time."""

__all__: list[str] = []
