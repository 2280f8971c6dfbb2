"""``etcd://host:port[,host:port...][/prefix][?timeout=seconds]`` parsed and checked."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs

from berthing.model import InvalidInput

__all__ = ["DEFAULT_PREFIX", "DEFAULT_TIMEOUT", "EtcdConfig", "parse_url"]

DEFAULT_PREFIX = "berthing"
#: Seconds one operation may spend failing over between members before it gives up.
DEFAULT_TIMEOUT = 10.0
_PREFIX_RE = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")
_EXAMPLE = "etcd://127.0.0.1:2379,127.0.0.1:2389,127.0.0.1:2399/berthing"


@dataclass(frozen=True, slots=True)
class EtcdConfig:
    endpoints: tuple[str, ...]
    prefix: str = DEFAULT_PREFIX
    timeout: float = DEFAULT_TIMEOUT


def parse_url(url: str) -> EtcdConfig:
    rest = url.removeprefix("etcd://")
    rest, _, query = rest.partition("?")
    hosts, _, prefix = rest.partition("/")
    endpoints = tuple(_endpoint(h.strip(), url) for h in hosts.split(",") if h.strip())
    if not endpoints:
        raise InvalidInput(f"No etcd endpoints in {url!r}.", hint=f"Use e.g. {_EXAMPLE}.")
    prefix = prefix.strip("/") or DEFAULT_PREFIX
    if not _PREFIX_RE.match(prefix):
        raise InvalidInput(
            f"Key prefix {prefix!r} in {url!r} is not valid.",
            hint="Use letters, digits, '_', '.', '-' and single '/' between parts.",
        )
    return EtcdConfig(endpoints, prefix, _timeout(parse_qs(query), url))


def _endpoint(text: str, url: str) -> str:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidInput(
            f"etcd endpoint {text!r} in {url!r} is not host:port.", hint=f"Use e.g. {_EXAMPLE}."
        )
    return f"{host}:{int(port)}"


def _timeout(query: dict[str, list[str]], url: str) -> float:
    unknown = set(query) - {"timeout"}
    if unknown:
        raise InvalidInput(
            f"Unknown option(s) {', '.join(sorted(unknown))} in {url!r}.",
            hint="The only option is timeout=SECONDS.",
        )
    if "timeout" not in query:
        return DEFAULT_TIMEOUT
    try:
        value = float(query["timeout"][-1])
    except ValueError:
        value = 0.0
    if not value > 0:
        raise InvalidInput(f"timeout in {url!r} must be a positive number of seconds.")
    return value
