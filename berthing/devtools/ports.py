"""Ports on loopback for the local servers the tests, demos and benchmarks start."""

from __future__ import annotations

import random
import socket

__all__ = ["HOST", "free_port", "free_port_block"]

HOST = "127.0.0.1"

#: Below Linux's default ephemeral range (32768-60999). A block taken from the
#: ephemeral range can be stolen between the check and the server's bind by any
#: outgoing connection (a session's Cassandra driver opens dozens): that is how a CI
#: run once saw an etcd member fail to listen on base+10.
_BLOCKS = range(20000, 32000)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def free_port_block(span: int, attempts: int = 200) -> int:
    """A base port whose ``span`` ports from base up are all free a moment ago, chosen
    outside the ephemeral range so that no outgoing connection takes one meanwhile."""
    for _ in range(attempts):
        base = random.randrange(_BLOCKS.start, _BLOCKS.stop - span)
        if all(_bindable(base + i) for i in range(span)):
            return base
    raise OSError(f"no {span} consecutive free ports in {_BLOCKS.start}-{_BLOCKS.stop}")


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
        return True
