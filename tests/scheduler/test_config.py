from __future__ import annotations

from pathlib import Path

import pytest

from berthing.model import InvalidInput
from berthing.scheduler import Scheduler, SchedulerConfig, load_config
from berthing.store import open_store


def test_defaults_without_a_file() -> None:
    assert load_config(None) == SchedulerConfig()


def test_reads_toml_and_merges_weights(tmp_path: Path) -> None:
    path = tmp_path / "scheduler.toml"
    path.write_text(
        "[scheduler]\nfilters = ['server_group']\nhost_subset_size = 5\n"
        "[scheduler.weights]\nram = -2.0\n"
    )
    config = load_config(path)
    assert config.filters == ("server_group",) and config.host_subset_size == 5
    assert config.weights["ram"] == -2.0 and config.weights["build_failure"] == 1_000_000.0


def test_unknown_keys_and_names_are_errors(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text("[scheduler]\nhost_subset = 5\n")
    with pytest.raises(InvalidInput, match="host_subset.*Known options"):
        load_config(path)
    path.write_text("[scheduler]\nfilters = ['ram_filter']\n")
    with pytest.raises(InvalidInput, match="Unknown filter"):
        Scheduler(open_store("sqlite://"), load_config(path))
    path.write_text("[scheduler.weights]\nmagic = 1.0\n")
    with pytest.raises(InvalidInput, match="Unknown weigher"):
        Scheduler(open_store("sqlite://"), load_config(path))
    path.write_text("not toml [")
    with pytest.raises(InvalidInput, match="Cannot read"):
        load_config(path)
    with pytest.raises(InvalidInput, match="at least 1"):
        SchedulerConfig(candidate_limit=0)


def test_pack_flips_resource_multipliers() -> None:
    pack = SchedulerConfig().with_strategy("pack")
    assert pack.weights["ram"] < 0 and pack.weights["io_ops"] == -1.0
    assert pack.with_strategy("spread").weights["ram"] > 0
    with pytest.raises(InvalidInput, match="spread or pack"):
        SchedulerConfig().with_strategy("random")
