"""The command line: services against a real store file, and errors people can act on."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from berthing.cli.main import main
from berthing.model import Heartbeat, ProviderQuery
from berthing.store import open_store
from berthing.store.etcd.cluster import free_port


def berthing(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "berthing.cli.main", *args],
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
    assert "not a valid resource class" in capsys.readouterr().err
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


@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_etcd_cluster_command_stops_its_members_on_a_signal(
    tmp_path: Path, stop: signal.Signals
) -> None:
    """A service manager's SIGTERM, a closed terminal's SIGHUP and Ctrl-C all stop the
    members: none may outlive the command."""
    base = free_port()
    args = ["etcd-cluster", "--data-dir", str(tmp_path), "--port", str(base)]
    command = subprocess.Popen(
        [sys.executable, "-m", "berthing.cli.main", *args],
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
