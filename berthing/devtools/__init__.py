"""Development and test machinery: local clusters of real servers; not used by the product
at run time."""

__all__: list[str] = []
