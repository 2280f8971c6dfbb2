"""Plain-ASGI pieces: the microversion middleware that the Starlette, FastAPI and Litestar
apps wrap themselves in (one place for the header rule, as Placement's own middleware),
and the helpers the raw app uses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from shared import ApiError, Version, error_body, parse_microversion, version_headers

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SCOPE_KEY = "placement.microversion"
_HEADER = b"openstack-api-version"


def header(scope: Scope, name: bytes) -> str | None:
    """A request header from the scope (ASGI lower-cases names)."""
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def encode_headers(pairs: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    return [(k.encode(), v.encode()) for k, v in pairs]


async def send_response(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    """Two messages, as ASGI asks; ``body`` empty for 204."""
    if body:
        headers = [
            *headers,
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def send_error(send: Send, err: ApiError, version: Version) -> None:
    await send_response(send, err.status, error_body(err), encode_headers(version_headers(version)))


class MicroversionMiddleware:
    """Reads ``OpenStack-API-Version`` into the scope; adds it and ``Vary`` to the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            version = parse_microversion(header(scope, _HEADER))
        except ApiError as err:
            await send_error(send, err, (1, 0))
            return
        scope[SCOPE_KEY] = version
        extra = encode_headers(version_headers(version))

        async def send_with_version(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, send_with_version)


async def read_body(receive: Receive) -> bytes:
    """The whole request body (small here: Placement bodies are kilobytes)."""
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)
