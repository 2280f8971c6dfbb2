"""Run the real ``openstack`` client's commands of ``osc_commands.yaml`` against a server.

The YAML file is the acceptance test of a Placement-compatible API: each step is one
command line, the exit status the real client gives against the real Placement, and
the facts of its stdout/stderr that do not depend on uuids or clocks. This module loads
it, runs the steps in order (through a recording proxy when asked, to see the wire),
and reports which facts failed. It knows nothing of the server: the same steps run
against Placement itself (to prove the file true) and against berthing.

Step keys (all but ``id`` and ``run`` optional):
  id, note        name and why
  run             arguments after ``openstack``; ``${NAME}`` is substituted
  env             variables over the file's ``env``; null removes one
  exit            expected exit status (default 0)
  stdout          facts: empty, json, fields, keys, rows, row_has, columns, contains
  stderr          facts: contains
  capture         {NAME: field}: remember a field of the JSON object printed
  requests        ["METHOD /path?query", ...] the client must send, in order
  sent_version    the OpenStack-API-Version each request carries (null: none)
A value ``{any_order: "A,B"}`` matches a comma-separated string holding the same items.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from berthing.devtools.osc_client import client_env
from berthing.devtools.recording_proxy import Exchange, RecordingProxy

COMMANDS = Path(__file__).with_name("osc_commands.yaml")
STEP_KEYS = frozenset(
    {"id", "note", "run", "env", "exit", "stdout", "stderr", "capture", "requests", "sent_version"}
)
STDOUT_FACTS = frozenset(
    {"empty", "json", "fields", "keys", "rows", "row_has", "columns", "contains"}
)
COMMAND_TIMEOUT = 120.0
_VAR = re.compile(r"\$\{([A-Z0-9_]+)\}")


@dataclass(frozen=True)
class Suite:
    env: dict[str, str | None]
    variables: dict[str, str]
    steps: list[dict[str, Any]]


@dataclass
class Outcome:
    """What one step did: the command, what the client printed, what it sent, and the
    facts that did not hold (empty when the step passed)."""

    step: dict[str, Any]
    argv: list[str]
    env: dict[str, str | None]
    exit: int
    stdout: str
    stderr: str
    exchanges: list[Exchange] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def command_line(self) -> str:
        return "openstack " + shlex.join(self.argv)


def load(path: Path = COMMANDS) -> Suite:
    raw = yaml.safe_load(path.read_text())
    return Suite(dict(raw.get("env") or {}), dict(raw.get("vars") or {}), list(raw["steps"]))


class OscRunner:
    """Runs steps with the ``openstack`` executable against ``endpoint``.

    With ``proxy`` (a RecordingProxy in front of the server) the client is pointed at
    the proxy and each outcome carries the exchanges, which ``requests`` and
    ``sent_version`` are checked against; without one those two facts are skipped.
    """

    def __init__(self, openstack: Path, endpoint: str, proxy: RecordingProxy | None = None):
        self.openstack = openstack
        self.endpoint = proxy.url if proxy is not None else endpoint
        self.proxy = proxy

    def run_all(self, suite: Suite) -> list[Outcome]:
        variables = dict(suite.variables)
        return [self.run(step, suite.env, variables) for step in suite.steps]

    def run(
        self, step: dict[str, Any], base_env: Mapping[str, str | None], variables: dict[str, str]
    ) -> Outcome:
        """Run one step; captures go into ``variables`` for the steps after it."""
        argv = shlex.split(substitute(step["run"], variables))
        overrides = {**base_env, **(step.get("env") or {})}
        env = client_env(self.endpoint, microversion=None)
        for name, value in overrides.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = substitute(str(value), variables)
        done = subprocess.run(
            [str(self.openstack), *argv],
            env=env,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT,
            check=False,
        )
        exchanges = self.proxy.take() if self.proxy is not None else []
        out = Outcome(step, argv, overrides, done.returncode, done.stdout, done.stderr, exchanges)
        out.failures = check(out, variables, wire=self.proxy is not None)
        _capture(step, out.stdout, variables)
        return out


def substitute(value: Any, variables: Mapping[str, str]) -> Any:
    """``value`` with every ``${NAME}`` replaced, recursively through lists and dicts."""
    if isinstance(value, str):
        return _VAR.sub(lambda m: variables.get(m.group(1), m.group(0)), value)
    if isinstance(value, list):
        return [substitute(v, variables) for v in value]
    if isinstance(value, dict):
        return {substitute(k, variables): substitute(v, variables) for k, v in value.items()}
    return value


def check(out: Outcome, variables: Mapping[str, str], wire: bool) -> list[str]:
    """The facts of ``out.step`` that ``out`` does not satisfy, as sentences."""
    step = substitute(out.step, variables)
    failures = []
    if out.exit != step.get("exit", 0):
        failures.append(f"exit {out.exit}, expected {step.get('exit', 0)}")
    failures += _check_stdout(step.get("stdout") or {}, out.stdout)
    for text in (step.get("stderr") or {}).get("contains", []):
        if text not in out.stderr:
            failures.append(f"stderr lacks {text!r}")
    if wire:
        failures += _check_wire(step, out.exchanges)
    return failures


def _check_stdout(facts: dict[str, Any], stdout: str) -> list[str]:
    failures = [f"stdout lacks {t!r}" for t in facts.get("contains", []) if t not in stdout]
    if facts.get("empty") and stdout.strip():
        failures.append(f"stdout not empty: {stdout[:200]!r}")
    if "columns" in facts and table_columns(stdout) != facts["columns"]:
        failures.append(f"columns {table_columns(stdout)}, expected {facts['columns']}")
    json_facts = STDOUT_FACTS - {"empty", "columns", "contains"}
    if not json_facts & facts.keys():
        return failures
    try:
        printed = json.loads(stdout)
    except ValueError:
        return [*failures, f"stdout is not JSON: {stdout[:200]!r}"]
    return failures + _check_json(facts, printed)


def _check_json(facts: dict[str, Any], printed: Any) -> list[str]:
    failures = []
    if "json" in facts and not matches(printed, facts["json"]):
        failures.append(f"printed {printed}, expected {facts['json']}")
    if "fields" in facts and not matches_subset(printed, facts["fields"]):
        failures.append(f"printed {printed}, expected fields {facts['fields']}")
    rows = printed if isinstance(printed, list) else [printed]
    if "keys" in facts and any(list(r) != facts["keys"] for r in rows):
        failures.append(f"keys {[list(r) for r in rows][:1]}, expected {facts['keys']}")
    if "rows" in facts and len(rows) != facts["rows"]:
        failures.append(f"{len(rows)} rows, expected {facts['rows']}")
    for wanted in facts.get("row_has", []):
        if not any(matches_subset(r, wanted) for r in rows):
            failures.append(f"no row matches {wanted}")
    return failures


def _check_wire(step: dict[str, Any], exchanges: list[Exchange]) -> list[str]:
    failures = []
    sent = [f"{e.method} {e.target}" for e in exchanges]
    if "requests" in step and sent != step["requests"]:
        failures.append(f"sent {sent}, expected {step['requests']}")
    if "sent_version" in step:
        wanted = step["sent_version"]
        versions = {e.request_header("OpenStack-API-Version") for e in exchanges}
        if versions != {wanted}:
            failures.append(f"OpenStack-API-Version {versions}, expected {wanted!r}")
    return failures


def matches(printed: Any, wanted: Any) -> bool:
    """Equality, except that ``{any_order: "A,B"}`` matches "B,A"."""
    if isinstance(wanted, dict) and set(wanted) == {"any_order"}:
        items = sorted(str(wanted["any_order"]).split(","))
        return isinstance(printed, str) and sorted(printed.split(",")) == items
    if isinstance(wanted, dict):
        return (
            isinstance(printed, dict)
            and printed.keys() == wanted.keys()
            and all(matches(printed[k], v) for k, v in wanted.items())
        )
    if isinstance(wanted, list):
        return (
            isinstance(printed, list)
            and len(printed) == len(wanted)
            and all(matches(p, w) for p, w in zip(printed, wanted, strict=True))
        )
    return bool(printed == wanted)


def matches_subset(printed: Any, wanted: dict[str, Any]) -> bool:
    """Every key of ``wanted`` is in ``printed`` (a dict) with a matching value."""
    return isinstance(printed, dict) and all(
        k in printed and matches(printed[k], v) for k, v in wanted.items()
    )


def table_columns(stdout: str) -> list[str]:
    """Header cells of the first table cliff printed (``| a | b |``)."""
    for line in stdout.splitlines():
        if line.startswith("|"):
            return [cell.strip() for cell in line.strip().strip("|").split("|")]
    return []


def _capture(step: dict[str, Any], stdout: str, variables: dict[str, str]) -> None:
    wanted = step.get("capture") or {}
    if not wanted:
        return
    try:
        printed = json.loads(stdout)
    except ValueError:
        return  # the step's own facts already failed; later steps will say what is missing
    for name, key in wanted.items():
        if isinstance(printed, dict) and key in printed:
            variables[name] = str(printed[key])


def variables_used(value: Any) -> set[str]:
    """Every ``${NAME}`` in ``value``, recursively."""
    if isinstance(value, str):
        return set(_VAR.findall(value))
    if isinstance(value, list):
        return set().union(*(variables_used(v) for v in value)) if value else set()
    if isinstance(value, dict):
        return set().union(*(variables_used([k, v]) for k, v in value.items())) if value else set()
    return set()
