"""A small typed client of the native API (``/v1``), for the operator's commands.

Every method returns the msgspec type the server declares for the route
(``berthing.api.native.schemas``), decoded and validated on arrival, so that a
command prints typed values and a mismatch with the server fails loudly here. Every
failure (no server, a timeout, an error answer) is a ``ClientError``: the API's own
detail, and what to do next.

Where the server is and which token to send: flags first, then ``BERTHING_URL`` and
``BERTHING_TOKEN``, then the ``berthing serve`` config file (``[client] url/token``,
else the ``[server]`` address; with ``noauth2`` the development token ``admin``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import httpx
import msgspec

from berthing.api.auth import ADMIN_TOKEN, AuthMode
from berthing.api.native.schemas import (
    BootAccepted,
    BootRequest,
    DisableRequest,
    Explanation,
    GroupCreate,
    GroupView,
    HostList,
    HostView,
    ResizeRequest,
    ResizeResult,
    ServerList,
    ServerView,
    ZoneList,
    ZonePut,
    ZoneView,
)
from berthing.model import BerthingError
from berthing.service.config import ServeConfig, default_config_path, load_config

__all__ = ["Client", "ClientError", "Readiness", "Target", "resolve_target"]

T = TypeVar("T")

#: Where to look for what a 404 was about, by the path's collection.
_LIST_COMMAND = {
    "servers": "berthing server list",
    "hosts": "berthing host list",
    "server-groups": "berthing group list",
    "availability-zones": "berthing zone list",
}


class ClientError(BerthingError):
    """The server said no (``status`` > 0), or could not be reached (``status`` 0)."""

    code = "berthing.client"

    def __init__(self, message: str, *, hint: str = "", status: int = 0) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class Readiness(msgspec.Struct):
    """``/readyz``: what keeps the server from being ready, if anything."""

    status: str
    problems: list[str] = []


@dataclass(frozen=True, slots=True)
class Target:
    """A server and the token to show it, with where each came from (for hints)."""

    url: str
    token: str
    url_from: str
    token_from: str


def resolve_target(
    url: str | None, token: str | None, config: str | None, env: Mapping[str, str] | None = None
) -> Target:
    """Flags, then environment, then the config file (see the module docstring)."""
    env = os.environ if env is None else env
    path = Path(config) if config else default_config_path()
    serve = load_config(config)  # the default file only if it exists
    found_url = _first(
        (url, "--url"),
        (env.get("BERTHING_URL"), "BERTHING_URL"),
        (serve.client.url, f"[client] url in {path}"),
        (_server_url(serve), f"[server] in {path}" if path.exists() else "the default"),
    )
    dev = ADMIN_TOKEN if serve.auth.mode is AuthMode.NOAUTH2 else None
    found_token = _first(
        (token, "--token"),
        (env.get("BERTHING_TOKEN"), "BERTHING_TOKEN"),
        (serve.client.token, f"[client] token in {path}"),
        (dev, "the noauth2 development token"),
        ("", "nowhere"),
    )
    return Target(found_url[0].rstrip("/"), found_token[0], found_url[1], found_token[1])


def _first(*choices: tuple[str | None, str]) -> tuple[str, str]:
    return next((value, where) for value, where in choices if value is not None)


def _server_url(serve: ServeConfig) -> str:
    host = serve.server.host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"  # listening everywhere: this machine answers on loopback
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{serve.server.port}"


class Client:
    """One connection to a berthing server; use as a context manager."""

    def __init__(
        self, target: Target, *, timeout: float = 30.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.target = target
        headers = {"accept": "application/json"}
        if target.token:
            headers["x-auth-token"] = target.token
        self._http = httpx.Client(
            base_url=target.url, headers=headers, timeout=timeout, transport=transport
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- servers -------------------------------------------------------------------------

    def boot(self, request: BootRequest) -> BootAccepted:
        return self._call("POST", "/v1/servers", BootAccepted, body=request)

    def servers(self, **filters: str | int | None) -> ServerList:
        """One page; filters: state, host, project_id, limit, marker."""
        params = {k: str(v) for k, v in filters.items() if v is not None}
        return self._call("GET", "/v1/servers", ServerList, params=params)

    def server(self, uuid: str) -> ServerView:
        return self._call("GET", f"/v1/servers/{uuid}", ServerView)

    def delete_server(self, uuid: str) -> None:
        self._call("DELETE", f"/v1/servers/{uuid}", None)

    def resize(self, uuid: str, resources: dict[str, int]) -> ResizeResult:
        body = ResizeRequest(resources=resources)
        return self._call("POST", f"/v1/servers/{uuid}/resize", ResizeResult, body=body)

    def explain(self, request: BootRequest) -> Explanation:
        return self._call("POST", "/v1/explain", Explanation, body=request)

    # -- hosts ---------------------------------------------------------------------------

    def hosts(self) -> HostList:
        return self._call("GET", "/v1/hosts", HostList)

    def host(self, name: str) -> HostView:
        return self._call("GET", f"/v1/hosts/{name}", HostView)

    def disable_host(self, name: str, reason: str) -> HostView:
        body = DisableRequest(reason=reason)
        return self._call("POST", f"/v1/hosts/{name}/disable", HostView, body=body)

    def enable_host(self, name: str) -> HostView:
        return self._call("POST", f"/v1/hosts/{name}/enable", HostView)

    # -- server groups and zones ---------------------------------------------------------

    def groups(self) -> list[GroupView]:
        return self._call("GET", "/v1/server-groups", list[GroupView])

    def create_group(self, request: GroupCreate) -> GroupView:
        return self._call("POST", "/v1/server-groups", GroupView, body=request)

    def group(self, uuid: str) -> GroupView:
        return self._call("GET", f"/v1/server-groups/{uuid}", GroupView)

    def delete_group(self, uuid: str) -> None:
        self._call("DELETE", f"/v1/server-groups/{uuid}", None)

    def zones(self) -> ZoneList:
        return self._call("GET", "/v1/availability-zones", ZoneList)

    def set_zone(self, name: str, aggregate: str) -> ZoneView:
        body = ZonePut(aggregate=aggregate)
        return self._call("PUT", f"/v1/availability-zones/{name}", ZoneView, body=body)

    def delete_zone(self, name: str) -> None:
        self._call("DELETE", f"/v1/availability-zones/{name}", None)

    # -- operations ----------------------------------------------------------------------

    def readiness(self) -> Readiness:
        """``/readyz``, whose 503 is an answer here, not an error."""
        response = self._send("GET", "/readyz")
        if response.status_code not in (200, 503):
            raise self._error(response)
        return self._decode(response, Readiness)

    # -- plumbing ------------------------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        kind: type[T] | None,
        *,
        body: msgspec.Struct | None = None,
        params: dict[str, str] | None = None,
    ) -> T:
        content = msgspec.json.encode(body) if body is not None else None
        headers = {"content-type": "application/json"} if content is not None else {}
        response = self._send(method, path, content=content, headers=headers, params=params)
        if response.status_code >= 400:
            raise self._error(response)
        if kind is None:
            return None  # type: ignore[return-value]  # the caller's T is None here
        return self._decode(response, kind)

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            return self._http.request(method, path, **kwargs)
        except httpx.TimeoutException as exc:
            raise ClientError(
                f"The server at {self.target.url} did not answer {method} {path} in time.",
                hint="It may be overloaded or stuck: check its log and /readyz, then retry.",
            ) from exc
        except httpx.TransportError as exc:
            raise ClientError(
                f"No berthing server answers at {self.target.url} "
                f"(from {self.target.url_from}): {exc}.",
                hint="Start one (berthing serve), or point at it with --url or BERTHING_URL.",
            ) from exc

    def _decode(self, response: httpx.Response, kind: type[T]) -> T:
        try:
            return msgspec.json.decode(response.content, type=kind)
        except msgspec.DecodeError as exc:
            raise ClientError(
                f"{self.target.url} answered {response.request.url.path} with something "
                f"this client cannot read: {exc}.",
                hint="Is it a berthing server of the same version (berthing --version)?",
            ) from exc

    def _error(self, response: httpx.Response) -> ClientError:
        status = response.status_code
        detail, request_id = _detail(response)
        return ClientError(
            detail, hint=self._next_step(status, response, request_id), status=status
        )

    def _next_step(self, status: int, response: httpx.Response, request_id: str) -> str:
        path = response.request.url.path
        if status == 401:
            where = f"the token from {self.target.token_from} was refused; "
            return where + "pass one with --token or BERTHING_TOKEN (or [client] token)."
        if status == 403:
            return "Use a token with that role (--token or BERTHING_TOKEN)."
        if status == 404:
            collection = path.removeprefix("/v1/").split("/", 1)[0]
            command = _LIST_COMMAND.get(collection)
            return f"See what exists: {command}." if command else "Check the URL (--url)."
        if status == 409:
            return "Its state changed or is changing: look again (show), then retry."
        if status >= 500:
            return f"The server's log says why (request {request_id or 'id unknown'})."
        return "Correct the request; --help shows every option."


def _detail(response: httpx.Response) -> tuple[str, str]:
    """The error's detail and request id, from Placement's error shape (or Keystone's
    401 body, or whatever text came back)."""
    try:
        body = response.json()
    except ValueError:
        text = response.text.strip() or response.reason_phrase
        return f"{response.status_code}: {text}", ""
    if isinstance(body, dict) and body.get("errors"):
        error = body["errors"][0]
        return str(error.get("detail", "")), str(error.get("request_id", ""))
    if isinstance(body, dict) and "message" in body:
        return str(body["message"]), ""
    return f"{response.status_code}: {response.text.strip()}", ""
