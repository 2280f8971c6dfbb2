"""The operator's commands (``berthing server|host|group|zone|explain``) against a live
``berthing serve``, and where they find the server and the token."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from berthing.cli.client import resolve_target
from berthing.cli.main import main
from berthing.devtools.ports import free_port
from berthing.devtools.server import ServerProcess

HOSTS = 8


@pytest.fixture(scope="module")
def url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("operate")
    store = f"sqlite:///{tmp / 'cell.db'}"
    with ServerProcess(store, tmp, "--simulate-hosts", str(HOSTS), start_timeout=120) as server:
        yield server.url


@pytest.fixture(autouse=True)
def no_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """Whatever the machine has in ~/.config or the environment must not leak in."""
    monkeypatch.setenv("BERTHING_CONFIG", "/nonexistent/berthing.toml")
    for name in ("BERTHING_URL", "BERTHING_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> Any:
    status, out, err = run(capsys, *args, "--format", "json")
    assert status == 0, err
    return json.loads(out)


@pytest.mark.slow
def test_servers_from_boot_to_delete(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = run(
        capsys, "server", "boot", "VCPU=1,MEMORY_MB=512", "--name", "cli", "--wait", "60",
        "--url", url,
    )  # fmt: skip
    assert status == 0, err
    assert " cli " in out and "ACTIVE" in out
    listed = run_json(capsys, "server", "list", "--url", url)
    assert isinstance(listed, dict)
    [server] = [s for s in listed["servers"] if s["name"] == "cli"]
    status, out, _ = run(capsys, "server", "show", server["uuid"], "--url", url)
    assert status == 0 and "ACTIVE" in out and "scheduled" in out and "active" in out
    resized = run_json(
        capsys, "server", "resize", server["uuid"], "VCPU=2,MEMORY_MB=512", "--url", url
    )
    assert resized == {"uuid": server["uuid"], "host": server["host"]}
    status, out, _ = run(capsys, "server", "delete", server["uuid"], "--url", url)
    assert status == 0 and f"deleting {server['uuid']}" in out


@pytest.mark.slow
def test_explain_and_hosts(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "explain", "VCPU=100000", "--url", url)
    assert status == 0
    assert f"does not fit: 0/{HOSTS} hosts are available: {HOSTS} not enough VCPU" in out
    hosts = run_json(capsys, "host", "list", "--url", url)
    assert isinstance(hosts, list) and len(hosts) == HOSTS
    name = hosts[0]["name"]
    status, out, _ = run(capsys, "host", "disable", name, "--reason", "new disks", "--url", url)
    assert status == 0 and f"{name}: disabled (new disks)" in out
    disabled = run_json(capsys, "host", "list", "--state", "disabled", "--url", url)
    assert [h["name"] for h in disabled] == [name]
    status, out, _ = run(capsys, "explain", "VCPU=1", "--url", url)
    assert "1 disabled or down" in out
    status, out, _ = run(capsys, "host", "enable", name, "--url", url)
    assert status == 0 and f"{name}: up" in out


@pytest.mark.slow
def test_groups_and_zones(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    group = run_json(
        capsys, "group", "create", "--policy", "anti-affinity", "--name", "g", "--url", url
    )
    assert isinstance(group, dict) and group["policy"] == "anti-affinity"
    listed = run_json(capsys, "group", "list", "--url", url)
    assert group["uuid"] in [g["uuid"] for g in listed]
    status, out, _ = run(capsys, "group", "show", group["uuid"], "--url", url)
    assert status == 0 and "no members" in out
    assert run(capsys, "group", "delete", group["uuid"], "--url", url)[0] == 0
    zones = run_json(capsys, "zone", "list", "--url", url)
    assert isinstance(zones, dict)
    first = zones["availability_zones"][0]  # the simulated fleet's zones
    made = run_json(capsys, "zone", "set", "spare", first["aggregate"], "--url", url)
    assert made == {**first, "name": "spare"}
    assert run(capsys, "zone", "delete", "spare", "--url", url)[0] == 0
    status, _, err = run(capsys, "zone", "delete", "spare", "--url", url)
    assert status == 2 and "No availability zone spare." in err


@pytest.mark.slow
def test_errors_say_what_the_api_said_and_what_to_do(
    url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = run(capsys, "server", "show", "nope", "--url", url)
    assert status == 2
    assert "error: No server nope." in err and "next: See what exists: berthing server list" in err
    status, _, err = run(capsys, "server", "list", "--url", url, "--token", "bob:proj-b")
    assert status == 2 and "This needs the reader role." in err and "--token" in err
    status, _, err = run(capsys, "server", "boot", "vcpu=1", "--url", url)
    assert status == 2 and "Did you mean the standard resource class VCPU?" in err
    dead = f"http://127.0.0.1:{free_port()}"
    status, _, err = run(capsys, "host", "list", "--url", dead)
    assert status == 2 and f"No berthing server answers at {dead} (from --url)" in err
    assert "next: Start one (berthing serve)" in err


@pytest.mark.slow
def test_boot_wait_without_a_conductor_fails_and_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = f"sqlite:///{tmp_path / 'idle.db'}"
    with ServerProcess(store, tmp_path, "--conductors", "0") as server:
        status, out, err = run(
            capsys, "server", "boot", "VCPU=1", "--wait", "1", "--url", server.url
        )
    assert status == 2
    assert "PENDING" in out  # the table of where things stand, then why
    assert "is still PENDING after 1s: no conductor has taken its request" in err
    assert "none has been seen" in err and "--conductors 0" in err


def test_the_server_and_token_come_from_flags_then_environment_then_config(
    tmp_path: Path,
) -> None:
    config = tmp_path / "berthing.toml"
    config.write_text('[server]\nport = 9999\n[auth]\nmode = "tokens"\n')
    from_config = resolve_target(None, None, str(config), env={})
    assert (from_config.url, from_config.token) == ("http://127.0.0.1:9999", "")
    config.write_text('[client]\nurl = "http://cell:1/"\ntoken = "t"\n')
    client = resolve_target(None, None, str(config), env={})
    assert (client.url, client.token, client.token_from) == (
        "http://cell:1",
        "t",
        f"[client] token in {config}",
    )
    env = {"BERTHING_URL": "http://env:2", "BERTHING_TOKEN": "e"}
    assert resolve_target(None, None, str(config), env=env).url == "http://env:2"
    flags = resolve_target("http://flag:3", "f", str(config), env=env)
    assert (flags.url, flags.token, flags.url_from) == ("http://flag:3", "f", "--url")
    default = resolve_target(None, None, None, env={})
    assert (default.url, default.token) == ("http://127.0.0.1:8778", "admin")  # noauth2


def test_a_config_with_an_unknown_key_is_named(tmp_path: Path) -> None:
    config = tmp_path / "berthing.toml"
    config.write_text('[client]\nadress = "x"\n')
    with pytest.raises(Exception, match="adress"):
        resolve_target(None, None, str(config), env={})
