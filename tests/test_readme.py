"""The README's command lines stay true: the "Operating a cell" block runs as written
(on a free port, in a scratch directory), and every ``berthing`` line in any shell
block parses with today's options."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from berthing.cli.main import build_parser
from berthing.devtools.osc_client import install_client
from berthing.devtools.ports import free_port
from berthing.service import ServeConfig, load_config

README = Path(__file__).parents[1] / "README.md"
DEFAULT_PORT = "8778"


def shell_blocks(section: str | None = None, language: str = "sh") -> list[str]:
    """The ```sh (or other ``language``) blocks of the README, or of one ``## section``."""
    text = README.read_text()
    if section is not None:
        start = text.index(f"## {section}\n")
        end = text.find("\n## ", start + 1)
        text = text[start : end if end != -1 else None]
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def berthing_lines() -> list[str]:
    lines = [line.strip() for block in shell_blocks() for line in block.splitlines()]
    return [line for line in lines if line.startswith("berthing ")]


@pytest.mark.parametrize("line", berthing_lines())
def test_every_berthing_line_parses(line: str) -> None:
    words = shlex.split(line, comments=True)
    words = [w for w in words if w != "&"]
    try:
        build_parser().parse_args(words[1:])
    except SystemExit as exc:  # --help exits 0; a stale option or command exits 2
        assert exc.code == 0, f"{line!r} does not parse"


@pytest.mark.slow
def test_operating_a_cell_runs_as_written(tmp_path: Path) -> None:
    out = _run_section("Operating a cell", tmp_path)
    assert out.count("ACTIVE") >= 2 and "does not fit" in out
    assert "disabled" in out and "disk replacement" in out
    assert "0 problem(s)" in out and "audited 20 providers" in out


@pytest.mark.slow
def test_using_berthing_as_placement_runs_as_written(tmp_path: Path) -> None:
    """With the real openstack client (the pinned one the acceptance test installs)."""
    out = _run_section("Using berthing as OpenStack Placement", tmp_path, install_client().parent)
    [candidate] = [line for line in out.splitlines() if "VCPU=2" in line]  # one provider
    assert re.search(r"\| [0-9a-f-]{36} \|", candidate) and "MEMORY_MB=4096" in candidate
    assert re.search(r"\| VCPU\s+\|\s+0 \|", out), out  # usage show: nothing allocated


def _run_section(section: str, tmp_path: Path, *tools: Path) -> str:
    """Run the section's one shell block as written (on a free port, in ``tmp_path``,
    with ``tools`` first on PATH); its output. The servers it starts must stop with it."""
    [block] = shell_blocks(section)
    port = str(free_port())
    script = "set -euo pipefail\n" + block.replace(DEFAULT_PORT, port)
    path = os.pathsep.join([*map(str, tools), str(Path(sys.executable).parent), os.environ["PATH"]])
    env = {
        **os.environ,
        "PATH": path,
        "BERTHING_URL": f"http://127.0.0.1:{port}",  # the block's port, moved
        "BERTHING_CONFIG": str(tmp_path / "none.toml"),
    }
    shell = subprocess.Popen(
        ["bash", "-c", script],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # so that a failure can stop the server it started
    )
    try:
        out, _ = shell.communicate(timeout=300)
    finally:
        if shell.poll() is None:
            os.killpg(shell.pid, signal.SIGKILL)
            shell.wait()
    assert shell.returncode == 0, out
    _server_stopped(shell.pid)
    return out


def _server_stopped(session: int) -> None:
    """``kill %1`` stops the server, and the server its cell (gracefully: seconds)."""
    deadline = time.monotonic() + 30
    while left := _in_session(session):
        assert time.monotonic() < deadline, f"the README's processes still run: {left}"
        time.sleep(0.2)


def _in_session(session: int) -> list[str]:
    found = subprocess.run(["pgrep", "-s", str(session)], capture_output=True, text=True)
    return found.stdout.split()


def test_the_config_example_loads(tmp_path: Path) -> None:
    """The README's serve config names every section and only keys that exist."""
    [block] = shell_blocks("Operating a cell", "toml")
    path = tmp_path / "berthing.toml"
    path.write_text(block)
    config = load_config(path)
    assert config.auth.tokens["nova"].roles == ["admin"] and config.log.format == "text"
    assert set(re.findall(r"^\[(\w+)", block, flags=re.M)) == set(ServeConfig.__struct_fields__)
