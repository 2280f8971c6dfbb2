"""Real OS processes claim concurrently against one shared store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from berthing.model import ConsumerNotFound, Inventory
from berthing.store import open_store
from berthing.store.audit import audit
from tests.procs import join_ok, start
from tests.store.claim_storm import storm

WORKERS = 4


def _storm_size(url: str) -> tuple[int, int]:
    """Providers, and claims per worker. Cassandra's LWTs run at tens per second on these
    machines: a smaller storm that still fills its providers (about 130 claims fit in
    20) keeps CI in its budget."""
    return (20, 150) if url.startswith("cassandra://") else (50, 500)


@pytest.mark.slow
def test_concurrent_claims_never_over_allocate(shared_store_url: str, tmp_path: Path) -> None:
    store = open_store(shared_store_url)
    providers, claims_each = _storm_size(shared_store_url)
    uuids = []
    for i in range(providers):
        p = store.create_provider(f"h{i}")
        inv = {"VCPU": Inventory(16), "MEMORY_MB": Inventory(8192)}
        uuids.append(store.set_inventories(p.uuid, 0, inv).uuid)

    outs = [tmp_path / f"w{i}.json" for i in range(WORKERS)]
    join_ok(
        start(
            storm, [(shared_store_url, uuids, claims_each, i, str(o)) for i, o in enumerate(outs)]
        )
    )

    results = [json.loads(o.read_text()) for o in outs]
    assert audit(store) == []
    acknowledged = {u: a for r in results for u, a in r["live"].items()}
    for uuid, allocs in acknowledged.items():
        assert store.get_allocations(uuid)[1] == allocs
    for r in results:
        for uuid in r["released"]:
            with pytest.raises(ConsumerNotFound):
                store.get_allocations(uuid)
    held = {c for u in uuids for c in store.provider_allocations(u)}
    assert held == set(acknowledged)  # nothing present that was not acknowledged
    conflicts = sum(r["conflicts"] for r in results)
    print(
        f"\n{WORKERS} processes, {WORKERS * claims_each} claims: {len(acknowledged)} live, "
        f"{sum(len(r['released']) for r in results)} released, {conflicts} conflicts, "
        "0 over-allocated"
    )
    assert conflicts > 0, "the storm should fill providers and lose some races"
    store.close()
