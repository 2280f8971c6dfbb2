"""The embedded default store (SQLite)."""

from berthing.store.sqlite.backend import SqliteStore

__all__ = ["SqliteStore"]
