"""Drive the HTTP stack benchmark: every (server, framework) pair side by side, with wrk.

Run through ``scripts/bench-http-stack``, which makes the pinned venv. All servers start
at once on their own ports (idle ones cost nothing), then every (pair, endpoint) cell is
measured in a shuffled order, round after round, so that the machine's drift spreads over
all cells instead of landing on a few. The server runs pinned to one core and wrk to the
other; CPU time is read from /proc so that each cell also says what it cost the server per
request and how much of the server's core other processes took meanwhile.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import http.client
import json
import math
import os
import platform
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
HEADER = "placement 1.39"
CONSUMER = "6c3ba6a2-2a57-4a5d-9b41-7a3c3e6e3a10"
CANDIDATES_PATH = (
    "/allocation_candidates?resources=VCPU:1,MEMORY_MB:512&required=HW_CPU_X86_AVX2&limit=10"
)

APPS = {
    "raw": "raw:app",
    "starlette": "starlette_app:app",
    "fastapi": "fastapi_app:app",
    "fastapi+msgspec": "fastapi_msgspec_app:app",
    "litestar": "litestar_app:app",
    "litestar+strict-body": "litestar_strict_app:app",
    "falcon": "falcon_app:app",
    "blacksheep": "blacksheep_app:app",
}
ENDPOINTS = {"root": "GET /", "candidates": "GET /allocation_candidates", "put": "PUT /allocations"}


def server_command(server: str, target: str, port: int, workers: int) -> list[str]:
    """Each server as its documentation recommends for production, access log off."""
    if server == "uvicorn":
        return [
            str(BIN / "uvicorn"),
            target,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
            "--workers",
            str(workers),
        ]
    if server == "granian":
        return [
            str(BIN / "granian"),
            "--interface",
            "asgi",
            "--http",
            "1",
            "--loop",
            "uvloop",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            target,
        ]
    if server == "hypercorn":
        return [
            str(BIN / "hypercorn"),
            "-k",
            "uvloop",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(workers),
            "--log-level",
            "warning",
            target,
        ]
    raise ValueError(server)


# ---- servers -------------------------------------------------------------------------


@dataclass
class Server:
    """One running server: a process group we started, stopped by its id."""

    server: str
    app: str
    port: int
    workers: int
    cpus: str | None
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    stopped: bool = False

    @property
    def name(self) -> str:
        suffix = f" x{self.workers}" if self.workers > 1 else ""
        return f"{self.server} + {self.app}{suffix}"

    def start(self, logdir: Path) -> None:
        cmd = server_command(self.server, APPS[self.app], self.port, self.workers)
        if self.cpus is not None:
            cmd = ["taskset", "-c", self.cpus, *cmd]
        env = {**os.environ, "PYTHONPATH": f"{HERE}{os.pathsep}{HERE / 'apps'}"}
        self.log = logdir / f"{self.server}-{self.app}-{self.workers}.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                cmd,
                cwd=HERE / "apps",
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def terminate(self) -> None:
        """SIGTERM to the process group we created: the server and its workers."""
        if self.proc is not None and self.proc.returncode is None:
            _signal_group(self.proc.pid, signal.SIGTERM)

    def stop(self) -> None:
        """Wait for the group leader (SIGKILL after 10 s), then kill any straggler once."""
        if self.proc is None or self.stopped:
            return
        self.terminate()
        try:
            self.proc.wait(10.0)
        except subprocess.TimeoutExpired:
            _signal_group(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5.0)
        _signal_group(self.proc.pid, signal.SIGKILL)  # a worker that outlived its parent
        self.stopped = True

    def cpu_seconds(self) -> float:
        """User + system time of every live process of the server's session."""
        assert self.proc is not None
        return _session_cpu(self.proc.pid)


def _session_cpu(sid: int) -> float:
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[3]) == sid:  # fields[3] is the session id
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def stop_all(servers: list[Server]) -> None:
    """Every server told at once, then each waited for: shutdowns overlap."""
    for s in servers:
        s.terminate()
    for s in servers:
        s.stop()


def wait_ready(server: Server, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.proc is not None
        if server.proc.poll() is not None:
            raise RuntimeError(f"{server.name} exited: {server.log.read_text()[-2000:]}")  # type: ignore[union-attr]
        try:
            request(server.port, "GET", "/")
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{server.name} did not answer within {timeout:.0f} s")


def wait_idle(group: list[Server], timeout: float = 120.0) -> None:
    """Until the servers use no CPU: the first answer comes from the first worker up, and
    the other workers (or other servers) may still be importing on a loaded machine."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        before = sum(s.cpu_seconds() for s in group)
        time.sleep(0.5)
        if sum(s.cpu_seconds() for s in group) - before < 0.02 * len(group):
            return
    print(f"warning: servers still busy after {timeout:.0f} s", file=sys.stderr)


# ---- correctness: every app must answer the same, or the comparison is void ------------


def request(
    port: int, method: str, path: str, body: bytes | None = None, version: str = HEADER
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        headers = {"OpenStack-API-Version": version, "Content-Type": "application/json"}
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def put_body() -> bytes:
    sys.path[:0] = [str(HERE)]
    from shared import put_body as body

    return json.dumps(body()).encode()


def check(server: Server, expected: dict[str, object]) -> list[str]:
    """What differs from the reference answers; empty when the app behaves."""
    port, problems = server.port, []
    bad = json.dumps({**json.loads(put_body()), "consumer_generation": "1"}).encode()
    cases = [
        ("GET", "/", None, HEADER, 200, "root"),
        ("GET", CANDIDATES_PATH, None, HEADER, 200, "candidates"),
        ("PUT", f"/allocations/{CONSUMER}", put_body(), HEADER, 204, None),
        ("PUT", f"/allocations/{CONSUMER}", bad, HEADER, 400, None),
        ("GET", "/", None, "placement 2.0", 406, None),
        ("GET", "/", None, "placement 1.x", 400, None),
    ]
    for method, path, body, version, status, ref in cases:
        got, headers, data = request(port, method, path, body, version)
        what = f"{method} {path.split('?')[0]} [{version}]"
        if got != status:
            problems.append(f"{what}: status {got}, expected {status}: {data[:200]!r}")
        if status < 300 and headers.get("openstack-api-version") != HEADER:
            problems.append(f"{what}: openstack-api-version {headers.get('openstack-api-version')}")
        if "openstack-api-version" not in headers.get("vary", "").lower():
            problems.append(f"{what}: vary {headers.get('vary')!r}")
        if method == "GET" and status == 200 and headers.get("cache-control") != "no-cache":
            problems.append(f"{what}: cache-control {headers.get('cache-control')!r}")
        doc = _json_or_none(data)
        if status >= 400 and (doc is None or doc["errors"][0]["status"] != status):
            problems.append(f"{what}: error body {data[:200]!r}")
        if ref is not None:
            expected.setdefault(ref, doc)
            if doc != expected[ref]:
                problems.append(f"{what}: body differs from the first app's")
    return problems


def _json_or_none(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return None


# ---- load ----------------------------------------------------------------------------

_LUA = """
wrk.method = "{method}"
wrk.body = {body}
wrk.headers["OpenStack-API-Version"] = "{version}"
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('RESULT {{"requests":%d,"duration_us":%d,"socket_errors":%d,' ..
    '"non2xx":%d,"p50_us":%d,"p99_us":%d}}\\n', summary.requests, summary.duration,
    e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
"""


def lua_scripts(tmp: Path) -> dict[str, tuple[Path, str]]:
    """One wrk script per endpoint: method, body and the microversion header."""
    body = put_body().decode()
    specs = {
        "root": ("GET", "nil", "/"),
        "candidates": ("GET", "nil", CANDIDATES_PATH),
        "put": ("PUT", json.dumps(body), f"/allocations/{CONSUMER}"),
    }
    out = {}
    for name, (method, lua_body, path) in specs.items():
        script = tmp / f"{name}.lua"
        script.write_text(_LUA.format(method=method, body=lua_body, version=HEADER))
        out[name] = (script, path)
    return out


def core_times() -> dict[str, tuple[float, float]]:
    """Per CPU line of /proc/stat: (busy seconds incl. steal, total seconds)."""
    tick, out = os.sysconf("SC_CLK_TCK"), {}
    for line in Path("/proc/stat").read_text().splitlines():
        if not line.startswith("cpu"):
            break
        name, *vals = line.split()
        nums = [int(v) for v in vals[:8]]
        idle = nums[3] + nums[4]
        out[name] = ((sum(nums) - idle) / tick, sum(nums) / tick)
    return out


@dataclass
class Cell:
    """One wrk run against one server and endpoint."""

    stack: str
    endpoint: str
    round: int
    rps: float
    p50_ms: float
    p99_ms: float
    server_cpu_us: float
    client_core_pct: float
    other_on_server_core_pct: float
    errors: int


def run_wrk(
    server: Server,
    endpoint: str,
    scripts: dict[str, tuple[Path, str]],
    args: argparse.Namespace,
    rnd: int,
) -> Cell:
    script, path = scripts[endpoint]
    cmd = [
        "wrk",
        "-t1",
        f"-c{args.connections}",
        f"-d{args.duration}s",
        "-s",
        str(script),
        f"http://127.0.0.1:{server.port}{path}",
    ]
    if args.client_cpus:
        cmd = ["taskset", "-c", args.client_cpus, *cmd]
    cores0, cpu0 = core_times(), server.cpu_seconds()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    wall = time.monotonic() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cores1, cpu1 = core_times(), server.cpu_seconds()
    res = json.loads(next(ln for ln in out.splitlines() if ln.startswith("RESULT "))[7:])
    server_cpu = cpu1 - cpu0
    wrk_cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    ours = server_cpu + (0.0 if args.client_cpus else wrk_cpu)
    other = _other_load(cores0, cores1, ours, wall, args.server_cpus)
    return Cell(
        stack=server.name,
        endpoint=endpoint,
        round=rnd,
        rps=res["requests"] / (res["duration_us"] / 1e6),
        p50_ms=res["p50_us"] / 1000,
        p99_ms=res["p99_us"] / 1000,
        server_cpu_us=server_cpu / max(res["requests"], 1) * 1e6,
        client_core_pct=100 * wrk_cpu / wall,
        other_on_server_core_pct=other,
        errors=res["socket_errors"] + res["non2xx"],
    )


def _other_load(
    c0: dict[str, tuple[float, float]],
    c1: dict[str, tuple[float, float]],
    ours: float,
    wall: float,
    server_cpus: str | None,
) -> float:
    """Percent of the server's core(s) that something else used: other processes, steal,
    interrupts. ``ours`` is the server's CPU, plus wrk's when wrk is not pinned elsewhere."""
    key = f"cpu{server_cpus}" if server_cpus and server_cpus.isdigit() else "cpu"
    busy = c1[key][0] - c0[key][0]
    cores = 1 if key != "cpu" else os.cpu_count() or 1
    return max(0.0, 100 * (busy - ours) / wall / cores)


_MIXED_LUA = """
local reqs = {{
  wrk.format("GET", "/", {{["OpenStack-API-Version"] = "{version}"}}),
  wrk.format("GET", "{candidates}", {{["OpenStack-API-Version"] = "{version}"}}),
  wrk.format("PUT", "{put}", {{["OpenStack-API-Version"] = "{version}",
                             ["Content-Type"] = "application/json"}}, {body}),
}}
local i = 0
request = function()
  i = i + 1
  return reqs[i % 3 + 1]
end
"""


def warm_up(server: Server, tmp: Path) -> None:
    """One second of all three requests: first requests build caches no steady state pays for."""
    script = tmp / "mixed.lua"
    if not script.exists():
        script.write_text(
            _MIXED_LUA.format(
                version=HEADER,
                candidates=CANDIDATES_PATH,
                put=f"/allocations/{CONSUMER}",
                body=json.dumps(put_body().decode()),
            )
        )
    subprocess.run(
        ["wrk", "-t1", "-c4", "-d1s", "-s", str(script), f"http://127.0.0.1:{server.port}/"],
        capture_output=True,
        check=True,
    )


# ---- payload microbenchmarks ---------------------------------------------------------


def run_micro(args: argparse.Namespace) -> list[dict[str, Any]]:
    return _run_json([str(HERE / "micro.py"), "--json"], args)


def run_inproc(args: argparse.Namespace) -> list[dict[str, Any]]:
    return _run_json([str(HERE / "inproc.py"), "--apps", args.apps], args)


def _run_json(script: list[str], args: argparse.Namespace) -> list[dict[str, Any]]:
    """A measuring child on the server core, printing its results as JSON."""
    cmd = [sys.executable, *script]
    if args.server_cpus:
        cmd = ["taskset", "-c", args.server_cpus, *cmd]
    env = {**os.environ, "PYTHONPATH": str(HERE)}
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
    return list(json.loads(out))


# ---- report --------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    """One (stack, endpoint) over all rounds: the median, and how far the rounds spread."""

    stack: str
    endpoint: str
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_us: float
    spread_pct: float
    other_pct: float
    client_pct: float
    errors: int

    @property
    def server(self) -> str:
        return self.stack.split(" + ")[0]

    @property
    def app(self) -> str:
        return self.stack.split(" + ")[1].split(" x")[0]

    @property
    def is_raw(self) -> bool:
        return self.app == "raw"


def summarize(cells: list[Cell]) -> list[Row]:
    groups: dict[tuple[str, str], list[Cell]] = {}
    for c in cells:
        groups.setdefault((c.stack, c.endpoint), []).append(c)
    rows = []
    for (stack, endpoint), runs in groups.items():
        runs.sort(key=lambda c: c.rps)
        mid, rps = runs[len(runs) // 2], [c.rps for c in runs]
        rows.append(
            Row(
                stack=stack,
                endpoint=endpoint,
                rps=statistics.median(rps),
                p50_ms=mid.p50_ms,
                p99_ms=mid.p99_ms,
                cpu_us=statistics.median(c.server_cpu_us for c in runs),
                spread_pct=100 * (max(rps) - min(rps)) / max(rps),
                other_pct=statistics.mean(c.other_on_server_core_pct for c in runs),
                client_pct=max(c.client_core_pct for c in runs),
                errors=sum(c.errors for c in runs),
            )
        )
    return rows


def table(rows: list[Row], endpoint: str, marked: set[str]) -> str:
    """Fastest first; '+us vs raw' is server CPU per request above the raw app on that server."""
    mine = sorted((r for r in rows if r.endpoint == endpoint), key=lambda r: -r.rps)
    if not mine:
        return ""
    best, raw = mine[0].rps, {r.server: r.cpu_us for r in mine if r.is_raw}
    lines = [
        f"### {ENDPOINTS[endpoint]}",
        "",
        "| server + framework | req/s | ratio | p50 ms | p99 ms | server CPU us/req "
        "| +us vs raw app | spread | other load | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in mine:
        extra = r.cpu_us - raw[r.server] if r.server in raw else float("nan")
        mark = " (*)" if r.stack in marked else ""
        lines.append(
            f"| {r.stack}{mark} | {r.rps:,.0f} | {r.rps / best:.2f} | {r.p50_ms:.2f} "
            f"| {r.p99_ms:.2f} | {r.cpu_us:.0f} | {extra:+.0f} | {r.spread_pct:.0f}% "
            f"| {r.other_pct:.0f}% | {r.errors} |"
        )
    return "\n".join(lines) + "\n"


def _geomean(values: list[float]) -> float:
    return math.exp(statistics.fmean(math.log(v) for v in values))


def pooled_table(rows: list[Row], ref: str, key: str) -> str:
    """Ratios to ``ref`` pooled (geometric mean) over every cell both were measured in.

    ``key`` 'server' compares servers over the same (app, endpoint) cells; 'app' compares
    frameworks over the same (server, endpoint) cells. One cell is noisy on a shared
    machine; the pooled ratio over many is what a choice can rest on."""
    other = "app" if key == "server" else "server"
    cells = {(getattr(r, key), getattr(r, other), r.endpoint): r for r in rows}
    names = list(dict.fromkeys(getattr(r, key) for r in rows))
    lines = [
        f"| {key} | cells | server CPU per request, x {ref} | req/s, x {ref} |",
        "|---|---:|---:|---:|",
    ]
    found = []
    for name in names:
        pairs = [
            (cells[k], cells[(ref, *k[1:])])
            for k in cells
            if k[0] == name and (ref, *k[1:]) in cells
        ]
        if pairs:
            cpu = _geomean([a.cpu_us / b.cpu_us for a, b in pairs])
            found.append((cpu, name, len(pairs), _geomean([a.rps / b.rps for a, b in pairs])))
    for cpu, name, n, rps in sorted(found):
        lines.append(f"| {name} | {n} | {cpu:.2f} | {rps:.2f} |")
    return "\n".join(lines) + "\n"


def micro_table(results: list[dict[str, Any]]) -> str:
    lines = [
        "### Payloads, per call (CPU time, best of 7 round-robin, pinned to the server core)",
        "",
        "| operation | library | us/call | ratio |",
        "|---|---|---:|---:|",
    ]
    for op in dict.fromkeys(str(r["operation"]) for r in results):
        mine = sorted((r for r in results if r["operation"] == op), key=lambda r: r["us"])
        for r in mine:
            ratio = r["us"] / mine[0]["us"]
            lines.append(f"| {op} | {r['library']} | {r['us']:.1f} | {ratio:.1f} |")
    return "\n".join(lines) + "\n"


def inproc_table(results: list[dict[str, Any]]) -> str:
    """Framework cost alone: us per request called in-process, and the ratio to raw ASGI."""
    us = {(r["app"], r["endpoint"]): r["us"] for r in results}
    apps = sorted(dict.fromkeys(r["app"] for r in results), key=lambda a: us[a, "candidates"])
    head = " | ".join(f"{ENDPOINTS[e]} us | x raw" for e in ENDPOINTS)
    lines = [
        "### Framework alone, in-process (no server, no socket; CPU time, best of 7 round-robin)",
        "",
        f"| framework | {head} |",
        "|---|" + "---:|---:|" * len(ENDPOINTS),
    ]
    for app in apps:
        cells = " | ".join(
            f"{us[app, e]:.1f} | {us[app, e] / us.get(('raw', e), us[app, e]):.1f}"
            for e in ENDPOINTS
        )
        lines.append(f"| {app} | {cells} |")
    return "\n".join(lines) + "\n"


def machine() -> str:
    model = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
            if ln.startswith("Model name")
        ),
        "?",
    )
    wrk = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return (
        f"CPU: {model}, {os.cpu_count()} cores; Python {platform.python_version()}; "
        f"{platform.platform()}; {(wrk.stdout + wrk.stderr).splitlines()[0]}; "
        f"load average at start {load}"
    )


# ---- main ----------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--servers", default="uvicorn,granian,hypercorn")
    ap.add_argument("--apps", default=",".join(APPS))
    ap.add_argument(
        "--hypercorn-apps",
        default="raw,starlette,fastapi",
        help="the apps hypercorn serves ('all': every one of --apps); a subset "
        "keeps one run under five minutes",
    )
    ap.add_argument("--endpoints", default=",".join(ENDPOINTS))
    ap.add_argument("--duration", type=int, default=1, help="seconds per wrk run (integer)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the median is kept")
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--server-cpus", default="1", help="taskset list for servers ('' = none)")
    ap.add_argument("--client-cpus", default="0", help="taskset list for wrk ('' = none)")
    ap.add_argument(
        "--two-workers",
        default="raw,litestar",
        help="apps also run with 2 workers (unpinned) on uvicorn and granian",
    )
    ap.add_argument("--no-micro", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--output", type=Path, help="also write every cell as JSON here")
    return ap.parse_args()


@dataclass
class Results:
    """Everything one run measured."""

    header: str
    cells: list[Cell] = field(default_factory=list)
    problems: dict[str, list[str]] = field(default_factory=dict)
    inproc: list[dict[str, Any]] = field(default_factory=list)
    micro: list[dict[str, Any]] = field(default_factory=list)


def main() -> None:
    args = parse_args()
    args.server_cpus = args.server_cpus or None
    args.client_cpus = args.client_cpus or None
    start = time.monotonic()
    res = Results(machine())
    print(res.header, flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="bench-http-stack-"))
    servers: list[Server] = []
    atexit.register(stop_all, servers)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    try:
        if not args.no_micro:
            res.inproc = run_inproc(args)
            res.micro = run_micro(args)
        pinned = [
            Server(sv, app, 18600 + i, 1, args.server_cpus)
            for i, (sv, app) in enumerate(pairs(args))
        ]
        res.cells += measure(pinned, servers, args, tmp, res.problems)
        two = [
            (sv, app) for sv in ("uvicorn", "granian") for app in args.two_workers.split(",") if app
        ]
        if two:
            doubled = [Server(sv, app, 18700 + i, 2, None) for i, (sv, app) in enumerate(two)]
            unpinned = argparse.Namespace(
                **{
                    **vars(args),
                    "client_cpus": None,
                    "server_cpus": None,
                    "endpoints": "candidates",
                }
            )
            res.cells += measure(doubled, servers, unpinned, tmp, res.problems)
    finally:
        stop_all(servers)
        shutil.rmtree(tmp, ignore_errors=True)
    report(res, args, time.monotonic() - start)


def pairs(args: argparse.Namespace) -> list[tuple[str, str]]:
    """(server, app) pairs: every app on every server, except hypercorn's subset."""
    apps = args.apps.split(",")
    few = apps if args.hypercorn_apps == "all" else args.hypercorn_apps.split(",")
    return [
        (sv, app)
        for sv in args.servers.split(",")
        for app in apps
        if sv != "hypercorn" or app in few
    ]


def measure(
    group: list[Server],
    servers: list[Server],
    args: argparse.Namespace,
    tmp: Path,
    problems: dict[str, list[str]],
) -> list[Cell]:
    """Start the group, check every app answers alike, then the interleaved rounds."""
    scripts = lua_scripts(tmp)
    for s in group:
        servers.append(s)
        s.start(tmp)
    expected: dict[str, object] = {}
    for s in group:
        wait_ready(s)
    wait_idle(group)
    for s in group:
        found = check(s, expected)
        if found:
            problems[s.name] = found
        warm_up(s, tmp)
    cells, rng = [], random.Random(args.seed)
    order = [(s, e) for s in group for e in args.endpoints.split(",")]
    for rnd in range(args.rounds):
        rng.shuffle(order)
        for s, endpoint in order:
            cells.append(run_wrk(s, endpoint, scripts, args, rnd))
    stop_all(group)
    return cells


def report(res: Results, args: argparse.Namespace, elapsed: float) -> None:
    rows = summarize(res.cells)
    marked = set(res.problems)
    print(f"\nCommand: scripts/bench-http-stack {' '.join(sys.argv[1:])}".rstrip())
    print(
        f"wrk -t1 -c{args.connections} -d{args.duration}s x {args.rounds} interleaved rounds "
        f"(median kept); servers on CPU {args.server_cpus or 'any'}, wrk on CPU "
        f"{args.client_cpus or 'any'}; one worker each unless 'x2' (those unpinned)\n"
    )
    single = [r for r in rows if " x2" not in r.stack]
    print("### Pooled over all cells (geometric mean of per-cell ratios)\n")
    ref = "uvicorn" if any(r.server == "uvicorn" for r in single) else single[0].server
    print(pooled_table(single, ref, "server"))
    print(pooled_table(single, "raw", "app"))
    for endpoint in args.endpoints.split(","):
        print(table(single, endpoint, marked))
    two = [r for r in rows if " x2" in r.stack]
    if two:
        print("### 2 workers, unpinned (server and wrk share both cores)\n")
        print(table(two, "candidates", marked))
    if res.inproc:
        print(inproc_table(res.inproc))
    if res.micro:
        print(micro_table(res.micro))
    print(
        "Behaviour checks (same bodies, headers, 400/406 errors, strict body types): "
        + ("every app passed" if not res.problems else "(*) deviates:")
    )
    for stack, found in res.problems.items():
        for p in found:
            print(f"  {stack}: {p}")
    print(f"\nTotal time {elapsed:.0f} s")
    if args.output:
        doc = {**asdict(res), "summary": [asdict(r) for r in rows]}
        args.output.write_text(json.dumps(doc, indent=1))


if __name__ == "__main__":
    main()
