"""Falcon's ASGI App: resource classes, a middleware component, one error handler; msgspec."""

from __future__ import annotations

from typing import Any

import falcon
import falcon.asgi
import payload_msgspec as p
from shared import (
    MIN_VERSION,
    ApiError,
    error_body,
    get_headers,
    parse_candidate_query,
    parse_microversion,
    version_headers,
)


class Microversion:
    """Falcon middleware: the one place for the header rule."""

    async def process_request(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        req.context.version = MIN_VERSION
        req.context.version = parse_microversion(req.get_header("OpenStack-API-Version"))

    async def process_response(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, resource: Any, ok: bool
    ) -> None:
        for name, value in version_headers(req.context.version):
            resp.set_header(name, value)


def _json(req: falcon.asgi.Request, resp: falcon.asgi.Response, body: bytes) -> None:
    resp.data = body
    resp.content_type = falcon.MEDIA_JSON
    for name, value in get_headers(req.context.version):
        resp.set_header(name, value)


class Root:
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        _json(req, resp, p.encode(p.VERSIONS))


class Candidates:
    async def on_get(self, req: falcon.asgi.Request, resp: falcon.asgi.Response) -> None:
        query = parse_candidate_query(
            req.get_param("resources"), req.get_param("required"), req.get_param("limit")
        )
        _json(req, resp, p.encode(p.find_candidates(query)))


class Allocations:
    async def on_put(
        self, req: falcon.asgi.Request, resp: falcon.asgi.Response, consumer_uuid: Any
    ) -> None:
        p.decode_put(await req.stream.read())
        resp.status = falcon.HTTP_204


async def api_error(
    req: falcon.asgi.Request, resp: falcon.asgi.Response, ex: ApiError, params: Any
) -> None:
    resp.status = ex.status
    resp.data = error_body(ex)
    resp.content_type = falcon.MEDIA_JSON


app = falcon.asgi.App(middleware=[Microversion()])
app.add_route("/", Root())
app.add_route("/allocation_candidates", Candidates())
app.add_route("/allocations/{consumer_uuid:uuid}", Allocations())
app.add_error_handler(ApiError, api_error)
