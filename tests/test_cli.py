"""The command line: services against a real store file, and errors people can act on."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from berthing.cli.main import main
from berthing.devtools.etcd_cluster import EtcdCluster
from berthing.devtools.ports import free_port_block
from berthing.model import Consumer, Heartbeat, Inventory, ProviderQuery, new_uuid
from berthing.store import open_store


def berthing(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "berthing.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_agent_registers_this_machine_and_boot_reports(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    assert main(["agent", "--store", url, "--name", "real-host", "--once"]) == 0
    with open_store(url) as store:
        [state] = store.find_providers(ProviderQuery(name="real-host"))
        assert state.inventories["VCPU"].total >= 1
        assert state.inventories["MEMORY_MB"].total > 512
        assert store.get_record(Heartbeat, state.provider.uuid) is not None
    done = berthing("boot", "VCPU=1,MEMORY_MB=64", "--store", url)
    assert done.returncode == 0 and "submitted cell1/" in done.stdout


def test_errors_say_what_to_do(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    assert main(["boot", "VCPU=two", "--store", url]) == 2
    err = capsys.readouterr().err
    assert "Cannot read 'VCPU=two'" in err and "next: Write e.g." in err
    assert main(["boot", "vcpu=2", "--store", url]) == 2
    assert "Did you mean the standard resource class VCPU?" in capsys.readouterr().err
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"x" * 4096)
    assert main(["check", "--store", str(junk)]) == 2
    assert "Move the file aside" in capsys.readouterr().err
    assert main(["demo", "--hosts", "3"]) == 2
    assert "--hosts must be at least 10" in capsys.readouterr().err


def test_check_passes_on_a_sound_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    main(["agent", "--store", url, "--name", "h", "--once"])
    assert main(["check", "--store", url]) == 0
    assert "0 problem(s)" in capsys.readouterr().out


def test_check_counts_what_it_audited(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    with open_store(url) as store:
        a, b = (store.create_provider(n) for n in ("a", "b"))
        for p in (a, b):
            store.set_inventories(p.uuid, p.generation, {"VCPU": Inventory(8)})
        store.claim(Consumer(new_uuid(), "p", "u"), {a.uuid: {"VCPU": 1}, b.uuid: {"VCPU": 2}})
    assert main(["check", "--store", url]) == 0
    out = capsys.readouterr().out
    assert "audited 2 providers, 1 consumers, 2 allocations" in out


@pytest.mark.parametrize("where", ["nonexistent/dir/x.db", "missing.db"])
def test_check_refuses_a_store_that_does_not_exist(
    tmp_path: Path, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / where
    assert main(["check", "--store", f"sqlite:///{path}"]) == 2
    err = capsys.readouterr().err
    assert f"There is no store at {path}" in err and "next: Check the path" in err
    assert list(tmp_path.iterdir()) == []  # nothing created on the way


def test_check_refuses_an_empty_etcd_prefix(
    etcd_cluster: EtcdCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    prefix = f"nothing-{new_uuid()[:8]}"
    url = etcd_cluster.url(prefix)
    assert main(["check", "--store", url]) == 2
    assert "No berthing store under the prefix /nothing-" in capsys.readouterr().err
    with open_store(url):  # still nothing written by the refusal: opening creates it now
        pass
    assert main(["check", "--store", url]) == 0
    etcd_cluster.delete_prefix(f"/{prefix}/")


def test_boot_wait_without_a_conductor_exits_non_zero_and_says_why(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    waited = berthing("boot", "VCPU=1", "--store", url, "--wait", "1")
    assert waited.returncode == 1
    assert "still PENDING after 1s: no conductor of cell cell1 has taken it" in waited.stderr


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_etcd_cluster_command_stops_its_members_on_a_signal(
    tmp_path: Path, stop: signal.Signals
) -> None:
    """A service manager's SIGTERM, a closed terminal's SIGHUP and Ctrl-C all stop the
    members: none may outlive the command."""
    base = free_port_block(22)  # three members: client base+10*i, peer base+10*i+1
    args = ["etcd-cluster", "--data-dir", str(tmp_path), "--port", str(base)]
    command = subprocess.Popen(
        [sys.executable, "-m", "berthing.cli", *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert command.stdout is not None
    for line in command.stdout:
        if "stops it" in line:
            break
    assert port_open(base)
    command.send_signal(stop)
    assert command.wait(timeout=30) == 0
    assert not any(port_open(base + 10 * i) for i in range(3))


def port_open(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_a_reader_that_stops_early_is_not_an_error(tmp_path: Path) -> None:
    """`berthing ... | head -1` under pipefail: the command exits 0, without a traceback.
    ``true`` reads nothing and is gone long before berthing has started, so berthing's
    print meets a closed pipe."""
    store = f"sqlite:///{tmp_path / 'x.db'}"
    open_store(store).close()
    script = f"set -o pipefail; {sys.executable} -m berthing.cli check --store {store} | true"
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, check=False)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
