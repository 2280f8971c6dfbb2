"""Each framework's own cost per request, with no server and no socket in the way.

Every app is called as an ASGI callable in this process, with the scope, body and
headers that wrk sends, and the time of many calls is divided by their number. The
best of several round-robin repeats is kept: on a shared machine interference only ever
adds time, so the minimum is the figure least touched by it (the wrk numbers cannot use
that trick), and the clock is this process's CPU time, so that the slices other processes
run in between are not counted. Server cost is then what the wrk runs add on top.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import Any

import uvloop

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE / "apps")]

from shared import put_body  # noqa: E402 - needs the path above

MODULES = {
    "raw": "raw",
    "starlette": "starlette_app",
    "fastapi": "fastapi_app",
    "fastapi+msgspec": "fastapi_msgspec_app",
    "litestar": "litestar_app",
    "litestar+strict-body": "litestar_strict_app",
    "falcon": "falcon_app",
    "blacksheep": "blacksheep_app",
}
CONSUMER = "6c3ba6a2-2a57-4a5d-9b41-7a3c3e6e3a10"
QUERY = b"resources=VCPU:1,MEMORY_MB:512&required=HW_CPU_X86_AVX2&limit=10"
BODY = json.dumps(put_body()).encode()
REQUESTS = {
    "root": ("GET", "/", b"", b""),
    "candidates": ("GET", "/allocation_candidates", QUERY, b""),
    "put": ("PUT", f"/allocations/{CONSUMER}", b"", BODY),
}
ASGIApp = Callable[[dict[str, Any], Any, Any], Coroutine[Any, Any, None]]


def scope_for(method: str, path: str, query: bytes, body: bytes) -> dict[str, Any]:
    """The scope uvicorn builds for wrk's request (same headers, keep-alive)."""
    headers = [(b"host", b"127.0.0.1:18600"), (b"openstack-api-version", b"placement 1.39")]
    if body:
        headers += [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query,
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 18600),
        "state": {},
        "extensions": {},
    }


async def lifespan_startup(app: ASGIApp) -> Callable[[], Awaitable[None]]:
    """What a server does before the first request (BlackSheep and Litestar need it);
    returns the matching shutdown."""
    queue: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    await queue.put({"type": "lifespan.startup"})
    started = asyncio.Event()

    async def send(message: dict[str, Any]) -> None:
        if message["type"].startswith("lifespan.startup"):
            started.set()

    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    task = asyncio.get_running_loop().create_task(app(scope, queue.get, send))
    await asyncio.wait_for(started.wait(), 10)

    async def shutdown() -> None:
        await queue.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(task, 10)

    return shutdown


async def call(app: ASGIApp, scope: dict[str, Any], body: bytes) -> int:
    """One request; returns the status, so that a broken app shows instead of timing fast."""
    status = 0

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(dict(scope), receive, send)
    return status


async def per_request_us(app: ASGIApp, endpoint: str, number: int) -> float:
    method, path, query, body = REQUESTS[endpoint]
    scope = scope_for(method, path, query, body)
    start = time.process_time()  # CPU time: other processes' slices are not ours
    for _ in range(number):
        await call(app, scope, body)
    return (time.process_time() - start) / number * 1e6


async def measure(names: list[str], repeats: int, target_s: float) -> list[dict[str, Any]]:
    apps: dict[str, ASGIApp] = {}
    shutdowns = []
    for name in names:
        apps[name] = importlib.import_module(MODULES[name]).app
        shutdowns.append(await lifespan_startup(apps[name]))
    numbers = {}
    for name, app in apps.items():
        for endpoint, (method, path, query, body) in REQUESTS.items():
            status = await call(app, scope_for(method, path, query, body), body)
            assert status in (200, 204), f"{name} {endpoint}: status {status}"
            once = await per_request_us(app, endpoint, 200)  # also the warm-up
            numbers[name, endpoint] = max(50, int(target_s * 1e6 / once))
    best = dict.fromkeys(numbers, float("inf"))
    for _ in range(repeats):
        for (name, endpoint), number in numbers.items():
            us = await per_request_us(apps[name], endpoint, number)
            best[name, endpoint] = min(best[name, endpoint], us)
    for shutdown in shutdowns:
        await shutdown()
    return [{"app": n, "endpoint": e, "us": us} for (n, e), us in best.items()]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--apps", default=",".join(MODULES))
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--target", type=float, default=0.02, help="CPU seconds per timing")
    args = ap.parse_args()
    uvloop.install()
    print(json.dumps(asyncio.run(measure(args.apps.split(","), args.repeats, args.target))))


if __name__ == "__main__":
    main()
