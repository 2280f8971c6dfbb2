"""Open a store by URL; the scheme picks the backend (as tooz picks its drivers).

* ``sqlite://``                 in memory (one process only)
* ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``, or a bare path
* ``etcd://host:port[,host:port...][/prefix][?timeout=seconds]``   (docs/etcd.md)
* ``cassandra://host[,host...][:port]/keyspace[/store][?timeout=seconds]``   (docs/cassandra.md)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from platformdirs import user_data_dir

from berthing.model import InvalidInput, NotFound
from berthing.store.base import Store
from berthing.store.capabilities import Capability, check

__all__ = ["BACKENDS", "default_store_url", "open_store", "register_backend"]

#: An opener takes the URL and ``create``: whether a store that does not exist yet may
#: be made (False: raise ``NotFound`` instead, for commands that only read).
Opener = Callable[[str, bool], Store]
BACKENDS: dict[str, Opener] = {}


def register_backend(scheme: str, opener: Opener) -> None:
    """Make ``scheme://...`` URLs open with ``opener(url, create)``."""
    BACKENDS[scheme] = opener


def default_store_url() -> str:
    return "sqlite:///" + str(Path(user_data_dir("berthing")) / "berthing.db")


def _open_sqlite(url: str, create: bool) -> Store:
    from berthing.store.sqlite import SqliteStore

    rest = url.removeprefix("sqlite://")
    if rest in ("", "/", "/:memory:"):
        if not create:
            raise NotFound(
                "An in-memory store (sqlite://) holds nothing until a process writes to it.",
                hint="Name the store's file: sqlite:////absolute/path.db.",
            )
        return SqliteStore()
    path = rest.removeprefix("/")
    if not create and not Path(path).is_file():
        raise NotFound(
            f"There is no store at {Path(path).absolute()}.",
            hint="Check the path: sqlite:////abs/path.db (four slashes) is absolute, "
            "sqlite:///rel/path.db is relative to the current directory.",
        )
    return SqliteStore(path)


def _open_etcd(url: str, create: bool) -> Store:
    # Imported on first use: the gRPC driver loads only for etcd:// URLs.
    from berthing.store.etcd.backend import EtcdStore

    return EtcdStore(url, create=create)


def _open_cassandra(url: str, create: bool) -> Store:
    # Imported on first use: the driver loads only for cassandra:// URLs.
    from berthing.store.cassandra.backend import CassandraStore

    return CassandraStore(url, create=create)


register_backend("sqlite", _open_sqlite)
register_backend("etcd", _open_etcd)
register_backend("cassandra", _open_cassandra)


def open_store(
    url: str | None = None, require: Iterable[Capability] = (), *, create: bool = True
) -> Store:
    """Open the store at ``url`` (default: a SQLite file under the user's data dir).

    ``require``: capabilities the caller depends on; a store without them is refused
    before it is opened, with an error that names what is missing. ``create=False``:
    refuse (``NotFound``) a store nothing has written yet instead of making an empty
    one, for commands such as ``berthing check`` that must not invent what they read.
    """
    url = url or default_store_url()
    if "://" not in url:
        url = "sqlite:///" + url
    scheme = url.split("://", 1)[0]
    opener = BACKENDS.get(scheme)
    if opener is None:
        known = ", ".join(f"{s}://" for s in sorted(BACKENDS))
        raise InvalidInput(f"Unknown store URL scheme {scheme!r} in {url!r}.", hint=f"Use {known}.")
    store = opener(url, create)
    try:
        check(url, store.capabilities, require)
    except InvalidInput:
        store.close()
        raise
    return store
