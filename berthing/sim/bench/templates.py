"""One SQLite file per cloud size, built once and copied for every run.

Each run starts from the same bytes, so runs differ only in what is measured. A
template is kept under ``--store-dir`` and reused by later invocations; its name
carries the size, the seed and ``FORMAT`` (bump it when the cloud's shapes change).
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

from berthing.model import StoreCorrupt
from berthing.sim.cloud import CloudSummary, build_cloud, load_summary
from berthing.store import open_store

__all__ = ["FORMAT", "fresh_copy", "template"]

FORMAT = 1
_SIDECARS = ("", "-wal", "-shm")


def template(
    store_dir: Path, size: int, seed: int, progress: Callable[[int], None]
) -> tuple[Path, CloudSummary]:
    """The template file for ``size`` providers, building it first if needed."""
    path = store_dir / f"cloud-{size}-seed{seed}-v{FORMAT}.db"
    if path.exists():
        summary = _summary_of(path)
        if summary is not None and summary.hosts == size:
            progress(size)
            return path, summary
    building = path.with_name(path.name + ".building")
    _remove(building)
    with open_store(str(building)) as store:
        summary = build_cloud(store, size, seed, progress)
    _fold_wal(building)
    building.replace(path)
    return path, summary


def fresh_copy(source: Path, dest: Path) -> str:
    """Copy a template to ``dest`` (replacing any earlier run) and return its URL."""
    _remove(dest)
    shutil.copyfile(source, dest)
    return f"sqlite:///{dest}"


def _summary_of(path: Path) -> CloudSummary | None:
    try:
        with open_store(str(path)) as store:
            return load_summary(store)
    except StoreCorrupt:
        return None  # a damaged template is rebuilt, not trusted


def _fold_wal(path: Path) -> None:
    # Closing the last connection normally checkpoints the WAL into the main file;
    # done explicitly so that copying the one file always copies the whole store.
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _remove(path: Path) -> None:
    for suffix in _SIDECARS:
        Path(f"{path}{suffix}").unlink(missing_ok=True)
