"""The ``berthing`` command line."""

from berthing.cli.main import main

__all__ = ["main"]
