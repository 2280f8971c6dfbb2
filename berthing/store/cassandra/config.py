"""``cassandra://host[,host...][:port]/keyspace[/store][?timeout=seconds]`` parsed and checked.

Every host is a contact point (the driver learns the rest of the ring from them). One
CQL port serves all of them, written once after the last host (or after each host,
the same everywhere). The optional second path part names a *store* inside the
keyspace: every partition key starts with it, so that many independent stores (one
per test, one per benchmark cloud) share one keyspace and its tables without the
schema changes a fresh keyspace would cost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs

from berthing.model import InvalidInput

__all__ = ["DEFAULT_PORT", "DEFAULT_STORE", "DEFAULT_TIMEOUT", "CassandraConfig", "parse_url"]

DEFAULT_PORT = 9042
DEFAULT_STORE = "default"
#: Seconds one operation may spend retrying (another coordinator, a lost quorum) before
#: it gives up with StoreUnavailable.
DEFAULT_TIMEOUT = 20.0
DEFAULT_REPLICATION = 3
_NAME_RE = re.compile(r"^[A-Za-z0-9_]{1,48}$")
_STORE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")
_HOST_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
_EXAMPLE = "cassandra://127.0.0.1,127.0.0.2,127.0.0.3:9042/berthing"
_OPTIONS = {"timeout", "replication"}


@dataclass(frozen=True, slots=True)
class CassandraConfig:
    hosts: tuple[str, ...]
    port: int
    keyspace: str
    store: str = DEFAULT_STORE
    timeout: float = DEFAULT_TIMEOUT
    #: Replication factor of the keyspace if berthing creates it.
    replication: int = DEFAULT_REPLICATION

    @property
    def contact_points(self) -> str:
        return ",".join(f"{h}:{self.port}" for h in self.hosts)


def parse_url(url: str) -> CassandraConfig:
    rest = url.removeprefix("cassandra://")
    rest, _, query = rest.partition("?")
    hosts_part, _, path = rest.partition("/")
    hosts, port = _hosts(hosts_part, url)
    keyspace, _, store = path.strip("/").partition("/")
    if not _NAME_RE.match(keyspace):
        raise InvalidInput(
            f"Keyspace {keyspace!r} in {url!r} is not valid.",
            hint=f"Name one of 1-48 letters, digits or '_', e.g. {_EXAMPLE}.",
        )
    store = store or DEFAULT_STORE
    if not _STORE_RE.match(store):
        raise InvalidInput(
            f"Store name {store!r} in {url!r} is not valid.",
            hint="Use 1-100 letters, digits, '_', '.' or '-'.",
        )
    timeout, replication = _options(parse_qs(query), url)
    return CassandraConfig(hosts, port, keyspace, store, timeout, replication)


def _hosts(text: str, url: str) -> tuple[tuple[str, ...], int]:
    hosts, ports = [], set()
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        host, sep, port = part.rpartition(":")
        if not sep:
            host, port = part, ""
        if not host or not _HOST_RE.match(host) or (port and not _port_ok(port)):
            raise InvalidInput(
                f"Cassandra contact point {part!r} in {url!r} is not host or host:port.",
                hint=f"Use e.g. {_EXAMPLE}.",
            )
        hosts.append(host)
        if port:
            ports.add(int(port))
    if not hosts:
        raise InvalidInput(f"No Cassandra hosts in {url!r}.", hint=f"Use e.g. {_EXAMPLE}.")
    if len(ports) > 1:
        raise InvalidInput(
            f"Cassandra hosts in {url!r} name different ports {sorted(ports)}.",
            hint="All nodes of a cluster serve CQL on one port; name it once, at the end.",
        )
    return tuple(hosts), ports.pop() if ports else DEFAULT_PORT


def _port_ok(port: str) -> bool:
    return port.isdigit() and 0 < int(port) < 65536


def _options(query: dict[str, list[str]], url: str) -> tuple[float, int]:
    unknown = set(query) - _OPTIONS
    if unknown:
        raise InvalidInput(
            f"Unknown option(s) {', '.join(sorted(unknown))} in {url!r}.",
            hint="Options: timeout=SECONDS, replication=N (for a keyspace berthing creates).",
        )
    timeout = _positive(query["timeout"][-1], "timeout", url) if "timeout" in query else None
    replication = (
        _positive(query["replication"][-1], "replication", url) if "replication" in query else None
    )
    return timeout or DEFAULT_TIMEOUT, int(replication or DEFAULT_REPLICATION)


def _positive(text: str, what: str, url: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise InvalidInput(f"{what} in {url!r} must be a positive number.")
    return value
