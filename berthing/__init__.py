"""berthing: a cloud resource scheduler built on shared, replicated state."""

__version__ = "0.1.0"
__all__ = ["__version__"]
