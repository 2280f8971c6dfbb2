"""The OpenAPI 3.1 document of the native API, generated from the route table and the
payload types (msgspec's JSON Schema), so that it cannot drift from the code."""

from __future__ import annotations

import re
from typing import Any

import msgspec

from berthing import __version__
from berthing.api.http import Route
from berthing.api.native.core import Op

__all__ = ["openapi"]

_REF = "#/components/schemas/{name}"


def openapi(routes: list[Route[Op]]) -> dict[str, Any]:
    types = [
        t
        for r in routes
        for op in r.methods.values()
        for t in (op.body, op.response)
        if t is not None
    ]
    schemas, components = msgspec.json.schema_components(types, ref_template=_REF)
    refs = dict(zip(types, schemas, strict=True))
    paths: dict[str, Any] = {}
    for route in routes:
        paths[route.path] = {
            m.lower(): _operation(route, m, op, refs) for m, op in route.methods.items()
        }
    return {
        "openapi": "3.1.0",
        "info": {"title": "berthing", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "token": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"}
            },
        },
        "security": [{"token": []}],
    }


def _operation(route: Route[Op], method: str, op: Op, refs: dict[Any, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": op.summary,
        "operationId": f"{op.fn.__module__.rsplit('.', 1)[-1]}_{op.fn.__name__}_{method.lower()}",
        "description": f"Needs the {op.role.name.lower()} role.",
        "responses": _responses(op, refs),
    }
    params = re.findall(r"\{(\w+)\}", route.path)
    if params:
        operation["parameters"] = [
            {"name": p, "in": "path", "required": True, "schema": {"type": "string"}}
            for p in params
        ]
    if op.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[op.body]}},
        }
    return operation


def _responses(op: Op, refs: dict[Any, Any]) -> dict[str, Any]:
    error = {
        "description": "An error, in Placement's shape: {errors: [{status, title, detail, code}]}"
    }
    status = str(op.status)
    ok: dict[str, Any] = {"description": "Done."}
    if op.response is not None:
        ok["content"] = {"application/json": {"schema": refs[op.response]}}
    responses = {status: ok}
    for code in ("400", "401", "403", "404", "409"):
        responses[code] = error
    return responses
