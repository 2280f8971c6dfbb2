"""What only the SQLite backend has: files, schema versions, damaged databases."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from berthing.model import InvalidInput, ProviderQuery, StoreCorrupt, StoreUnavailable
from berthing.store import Capability, open_store
from berthing.store.sqlite.schema import SCHEMA_VERSION


def test_reopen_keeps_data_and_schema(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    with open_store(url) as s:
        s.create_provider("h1")
    with open_store(url) as s:
        assert [st.provider.name for st in s.find_providers(ProviderQuery())] == ["h1"]
    db = sqlite3.connect(tmp_path / "b.db")
    assert db.execute("SELECT version FROM berthing_schema").fetchall() == [(SCHEMA_VERSION,)]
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_corrupt_file_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "junk.db"
    bad.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(StoreCorrupt, match="junk.db") as err:
        open_store(str(bad))
    assert "Move the file aside" in str(err.value)


def test_unwritable_location_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where a directory should be")
    with pytest.raises(StoreUnavailable, match="writable"):
        open_store(str(blocker / "sub" / "b.db"))


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    open_store(str(path)).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE berthing_schema SET version = 999")
    db.commit()
    db.close()
    with pytest.raises(StoreCorrupt, match="999"):
        open_store(str(path))


def test_unknown_scheme() -> None:
    with pytest.raises(InvalidInput, match="sqlite://"):
        open_store("mongodb://x")


def test_capabilities_are_checked_at_open(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="lacks shared"):
        open_store("sqlite://", require={Capability.SHARED})
    with pytest.raises(InvalidInput, match="lacks native-watch, replicated"):
        open_store(
            f"sqlite:///{tmp_path / 'x.db'}",
            require={Capability.REPLICATED, Capability.NATIVE_WATCH},
        )
    with open_store(f"sqlite:///{tmp_path / 'y.db'}", require={Capability.SHARED}) as store:
        assert store.capabilities == {Capability.SHARED}
