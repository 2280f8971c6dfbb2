"""Baseline: a hand-written ASGI callable, msgspec payloads, no framework."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

import payload_msgspec as p
from asgi_common import Receive, Scope, Send, encode_headers, header, read_body, send_response
from shared import (
    MIN_VERSION,
    ApiError,
    Version,
    error_body,
    get_headers,
    parse_candidate_query,
    parse_microversion,
    version_headers,
)

Answer = tuple[int, bytes, list[tuple[str, str]]]
Handler = Callable[[Scope, Receive, Version], Awaitable[Answer]]


async def root(scope: Scope, receive: Receive, version: Version) -> Answer:
    return 200, p.encode(p.VERSIONS), get_headers(version)


async def candidates(scope: Scope, receive: Receive, version: Version) -> Answer:
    params = dict(parse_qsl(scope["query_string"].decode("latin-1")))
    query = parse_candidate_query(
        params.get("resources"), params.get("required"), params.get("limit")
    )
    return 200, p.encode(p.find_candidates(query)), get_headers(version)


async def put_allocations(scope: Scope, receive: Receive, version: Version) -> Answer:
    try:
        uuid.UUID(scope["path"][len("/allocations/") :])
    except ValueError:
        raise ApiError(404, "Not Found", "No such consumer") from None
    p.decode_put(await read_body(receive))
    return 204, b"", []


ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "/"): root,
    ("GET", "/allocation_candidates"): candidates,
}


def route(method: str, path: str) -> Handler:
    if path.startswith("/allocations/"):
        if method == "PUT":
            return put_allocations
        raise ApiError(405, "Method Not Allowed", f"{method} {path}")
    handler = ROUTES.get((method, path))
    if handler is None:
        if any(known == path for _, known in ROUTES):
            raise ApiError(405, "Method Not Allowed", f"{method} {path}")
        raise ApiError(404, "Not Found", f"The resource could not be found: {path}")
    return handler


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    version = MIN_VERSION
    try:
        version = parse_microversion(header(scope, b"openstack-api-version"))
        handler = route(scope["method"], scope["path"])
        status, body, extra = await handler(scope, receive, version)
    except ApiError as err:
        status, body, extra = err.status, error_body(err), []
    await send_response(send, status, body, encode_headers([*version_headers(version), *extra]))
