"""Litestar with the PUT body decoded by msgspec in strict mode from the raw bytes.

Litestar's own ``data: Struct`` parameter converts with ``strict=False`` (the same call
that turns query strings into ints), so it accepts ``"1"`` for an integer where
Placement's JSON Schema refuses it; reading the bytes and decoding them ourselves keeps
Placement's rule. Everything else is the idiomatic app's.
"""

from __future__ import annotations

import uuid
from typing import Any

import payload_msgspec as p
from asgi_common import MicroversionMiddleware
from litestar import Litestar, Request, put
from litestar.exceptions import ValidationException
from litestar_app import api_error, candidates, root
from shared import ApiError


@put("/allocations/{consumer_uuid:uuid}", status_code=204)
async def put_allocations(consumer_uuid: uuid.UUID, request: Request[Any, Any, Any]) -> None:
    p.decode_put(await request.body())


app = Litestar(
    route_handlers=[root, candidates, put_allocations],
    middleware=[MicroversionMiddleware],
    exception_handlers={ApiError: api_error, ValidationException: api_error},
)
