"""The backends every contract test runs against.

Each entry opens a fresh, empty store. ``shared`` backends can be opened again by URL
from other processes, which the multi-process tests need.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from berthing.store import Store, open_store


@dataclass(frozen=True)
class Backend:
    name: str
    shared: bool
    #: (tmp_path, pytest request) -> context manager yielding a URL for a fresh store
    url: Callable[[Path, object], object]


@contextmanager
def _sqlite_memory(tmp_path: Path, request: object) -> Iterator[str]:
    yield "sqlite://"


@contextmanager
def _sqlite_file(tmp_path: Path, request: object) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'berthing.db'}"


BACKENDS: list[Backend] = [
    Backend("sqlite-memory", shared=False, url=_sqlite_memory),
    Backend("sqlite-file", shared=True, url=_sqlite_file),
]


@contextmanager
def fresh_store(backend: Backend, tmp_path: Path, request: object) -> Iterator[Store]:
    with backend.url(tmp_path, request) as url:  # type: ignore[attr-defined]
        store = open_store(url)
        try:
            yield store
        finally:
            store.close()
