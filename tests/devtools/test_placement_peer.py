"""The Placement peer: argument checks always; real start-ups on request.

Starting the peer installs openstack-placement into a cache on first use (about a
minute from PyPI) and runs it; that part runs with ``BERTHING_PLACEMENT_PEER=1``.
"""

from __future__ import annotations

import json
import os
import urllib.request

import pytest

from berthing.devtools.placement_peer import (
    CONSTRAINTS,
    PeerError,
    PlacementPeer,
    default_cache_dir,
    version_document,
)

PEER_OPT_IN = "BERTHING_PLACEMENT_PEER"
needs_peer = pytest.mark.skipif(
    os.environ.get(PEER_OPT_IN) != "1",
    reason=f"{PEER_OPT_IN}=1 installs and runs the real OpenStack Placement",
)


def test_sqlite_takes_one_worker() -> None:
    with pytest.raises(PeerError, match="1 worker"):
        PlacementPeer("sqlite", workers=2)


def test_unknown_database_is_refused_with_the_choices() -> None:
    peer = PlacementPeer("mysql-ish")
    with pytest.raises(PeerError, match="'sqlite', 'postgresql' or a SQLAlchemy URL"):
        peer._connection()


def test_cache_dir_follows_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BERTHING_PLACEMENT_PEER_CACHE", "/tmp/somewhere")
    assert str(default_cache_dir()) == "/tmp/somewhere"


def test_every_dependency_is_pinned() -> None:
    assert all("==" in c for c in CONSTRAINTS)
    assert "openstack-placement==16.0.0" in CONSTRAINTS


def test_nothing_answers_on_a_closed_port() -> None:
    assert version_document("http://127.0.0.1:9") is None


def _create_provider(url: str) -> int:
    request = urllib.request.Request(
        url + "/resource_providers",
        data=json.dumps({"name": "n1"}).encode(),
        headers={
            "X-Auth-Token": "admin",
            "Content-Type": "application/json",
            "OpenStack-API-Version": "placement 1.39",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as resp:
        return int(resp.status)


@pytest.mark.slow
@needs_peer
@pytest.mark.parametrize(("database", "workers"), [("sqlite", 1), ("postgresql", 2)])
def test_real_placement_starts_answers_and_stops(database: str, workers: int) -> None:
    with PlacementPeer(database, workers=workers) as peer:
        document = version_document(peer.url)
        assert document is not None
        assert document["versions"][0]["max_version"] == "1.39"
        assert _create_provider(peer.url) == 200
        process = peer.process
    assert process is not None and process.poll() is not None
    assert version_document(peer.url) is None
