"""Run one spec file (tests/api/placement/spec/*.yaml) against a live Placement API.

A file is a list of HTTP exchanges run in order against one server; a failing step
stops the file (later steps build on earlier ones). See spec/README.md for the format.
"""

from __future__ import annotations

import json
import re
import secrets
import uuid
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import httpx

from tests.api.placement.matchers import Absent, Matcher, load_spec, mismatches

__all__ = ["SpecError", "check_file", "run_file"]

METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")
STEP_KEYS = {
    "name", "desc", "version", "request_headers", "json", "data", "status",
    "response_headers", "response_forbidden_headers", "response_json", "response_json_paths",
    "response_text", "error_code", "capture",
}  # fmt: skip
FILE_KEYS = {"description", "defaults", "tests"}
DEFAULT_KEYS = {"version", "request_headers"}
# $uuid.X: a fresh uuid per file and X; $name.X: a provider name unique to the file;
# $var.X: a value captured by an earlier step; $tag: a token unique to the file
# (CUSTOM_$tag_GOLD is a trait or class no other file or run uses).
TOKEN = re.compile(r"\$(uuid|name|var)\.([A-Za-z0-9_]+)|\$tag")
PATH_PART = re.compile(r"\.([^.\[\]]+)|\[(-?\d+)\]|\[\"([^\"]+)\"\]|\['([^']+)'\]")


class SpecError(Exception):
    """A spec file that is malformed (as opposed to a server that fails it)."""


@dataclass
class Context:
    """What a file's steps share: its unique tag, its uuids and its captured values."""

    tag: str = field(default_factory=lambda: "S" + secrets.token_hex(4).upper())
    uuids: dict[str, str] = field(default_factory=dict)
    vars: dict[str, Any] = field(default_factory=dict)

    def token(self, match: re.Match[str]) -> Any:
        kind, name = match.group(1), match.group(2)
        if kind is None:
            return self.tag
        if kind == "uuid":
            return self.uuids.setdefault(name, str(uuid.uuid4()))
        if kind == "name":
            return f"spec-{self.tag.lower()}-{name}"
        if name not in self.vars:
            raise SpecError(f"$var.{name} used before it was captured")
        return self.vars[name]

    def substitute(self, value: Any) -> Any:
        """Replace the tokens everywhere in a step; a string that is exactly one $var
        token becomes the captured value itself (an int generation stays an int)."""
        if isinstance(value, str):
            whole = TOKEN.fullmatch(value)
            if whole and whole.group(1) == "var":
                return self.token(whole)
            return TOKEN.sub(lambda m: str(self.token(m)), value)
        if isinstance(value, dict):
            return {self.substitute(k): self.substitute(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.substitute(v) for v in value]
        if isinstance(value, Matcher):
            changes = {f.name: self.substitute(getattr(value, f.name)) for f in fields(value)}  # type: ignore[arg-type]
            return replace(value, **changes)  # type: ignore[type-var]
        return value


_MISSING = object()


def resolve(document: Any, path: str) -> Any:
    """The value at a small JSONPath ($.a.b[0]["c d"]), or _MISSING."""
    if not path.startswith("$"):
        raise SpecError(f"path {path!r} must start with $")
    rest, value = path[1:], document
    while rest:
        part = PATH_PART.match(rest)
        if not part:
            raise SpecError(f"cannot parse path {path!r} at {rest!r}")
        rest = rest[part.end() :]
        key, index = part.group(1) or part.group(3) or part.group(4), part.group(2)
        if index is not None:
            ok = isinstance(value, list) and -len(value) <= int(index) < len(value)
            value = value[int(index)] if ok else _MISSING
        else:
            value = value[key] if isinstance(value, dict) and key in value else _MISSING
        if value is _MISSING:
            return _MISSING
    return value


def _method_and_url(step: dict[str, Any]) -> tuple[str, str]:
    found = [m for m in METHODS if m in step]
    if len(found) != 1:
        raise SpecError(f"step {step.get('name')!r} needs exactly one of {METHODS}")
    return found[0], step[found[0]]


def _check_keys(step: dict[str, Any]) -> None:
    unknown = set(step) - STEP_KEYS - set(METHODS)
    if unknown:
        raise SpecError(f"step {step.get('name')!r} has unknown keys {sorted(unknown)}")
    version = step.get("version")
    if version is not None and not isinstance(version, str):
        # YAML reads 1.20 as the float 1.2: versions must be quoted strings.
        raise SpecError(f"step {step.get('name')!r}: quote the version ({version!r})")


def _not_json(value: Any) -> Any:
    raise SpecError(f"a request body cannot hold {value!r} (matchers are for responses)")


def _lower(headers: dict[str, Any] | None) -> dict[str, Any]:
    return {k.lower(): v for k, v in (headers or {}).items()}


def build_request(
    client: httpx.Client, step: dict[str, Any], defaults: dict[str, Any]
) -> httpx.Request:
    """The request a step describes. A header given as null is removed, even one
    httpx would send by default (accept, user-agent...)."""
    method, url = _method_and_url(step)
    headers: dict[str, Any] = {"x-auth-token": "admin"}
    version = step.get("version", defaults.get("version"))
    if version is not None:
        headers["openstack-api-version"] = f"placement {version}"
    headers |= _lower(defaults.get("request_headers"))
    content: bytes | None = None
    if "json" in step:
        headers["content-type"] = "application/json"
        content = json.dumps(step["json"], default=_not_json).encode()
    elif "data" in step:
        content = str(step["data"]).encode()
    headers |= _lower(step.get("request_headers"))
    sent = {k: str(v) for k, v in headers.items() if v is not None}
    request = client.build_request(method, url, content=content, headers=sent)
    for name in (k for k, v in headers.items() if v is None):
        request.headers.pop(name, None)
    return request


def _json_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return _MISSING


def check_response(step: dict[str, Any], response: httpx.Response) -> list[str]:
    """Everything wrong with the response, as readable lines."""
    errors: list[str] = []
    status = step.get("status", 200)
    if response.status_code != status:
        errors.append(f"status: expected {status}, got {response.status_code}")
    for name, expected in (step.get("response_headers") or {}).items():
        value = response.headers.get(name)
        if value is None:
            errors.append(f"header {name}: missing")
        else:
            errors += mismatches(expected, value, f"header {name}")
    for name in step.get("response_forbidden_headers") or []:
        if name in response.headers:
            errors.append(f"header {name}: should be absent, is {response.headers[name]!r}")
    if "response_text" in step:
        errors += mismatches(step["response_text"], response.text, "body")
    errors += _check_json(step, response)
    return errors


def _check_json(step: dict[str, Any], response: httpx.Response) -> list[str]:
    paths = dict(step.get("response_json_paths") or {})
    if "error_code" in step:
        paths["$.errors[0].code"] = step["error_code"]
    if not paths and "response_json" not in step:
        return []
    body = _json_body(response)
    if body is _MISSING:
        return [f"body is not JSON: {response.text[:300]!r}"]
    errors = mismatches(step["response_json"], body) if "response_json" in step else []
    for path, expected in paths.items():
        value = resolve(body, path)
        if value is _MISSING:
            errors += [] if isinstance(expected, Absent) else [f"{path}: missing"]
        else:
            errors += mismatches(expected, value, path)
    return errors


def capture(step: dict[str, Any], response: httpx.Response, ctx: Context) -> None:
    """Store values for later steps: "$.json.path" or "header:name"."""
    for name, source in (step.get("capture") or {}).items():
        if source.startswith("header:"):
            value: Any = response.headers.get(source.removeprefix("header:"), _MISSING)
        else:
            value = resolve(_json_body(response), source)
        if value is _MISSING:
            raise AssertionError(f"capture {name}: {source} not in the response")
        ctx.vars[name] = value


def _describe(request: httpx.Request, response: httpx.Response) -> str:
    sent = "\n".join(f"  {k}: {v}" for k, v in request.headers.items())
    got = "\n".join(f"  {k}: {v}" for k, v in response.headers.items())
    body = request.content.decode(errors="replace")[:2000]
    return (
        f"{request.method} {request.url}\n{sent}\n  {body}\n"
        f"-> {response.status_code}\n{got}\n  {response.text[:3000]}"
    )


def run_step(
    client: httpx.Client, raw: dict[str, Any], defaults: dict[str, Any], ctx: Context, where: str
) -> None:
    _check_keys(raw)
    step = ctx.substitute(raw)
    request = build_request(client, step, defaults)
    response = client.send(request)
    errors = check_response(step, response)
    if errors:
        lines = "\n".join(f"  - {e}" for e in errors)
        exchange = _describe(request, response)
        raise AssertionError(f"{where} {raw.get('name')!r} failed:\n{lines}\n{exchange}")
    capture(step, response, ctx)


def load(path: Path) -> dict[str, Any]:
    spec = load_spec(path)
    if not isinstance(spec, dict) or set(spec) - FILE_KEYS or not spec.get("tests"):
        raise SpecError(f"{path.name}: expected a mapping of {sorted(FILE_KEYS)} with tests")
    defaults = spec.get("defaults") or {}
    if set(defaults) - DEFAULT_KEYS or not isinstance(defaults.get("version", ""), str):
        raise SpecError(f"{path.name}: defaults hold only {sorted(DEFAULT_KEYS)}, versions quoted")
    return spec


def check_file(path: Path) -> int:
    """Validate a file without a server (keys, methods, quoted versions); returns
    the number of steps."""
    spec = load(path)
    for step in spec["tests"]:
        _check_keys(step)
        _method_and_url(step)
    return len(spec["tests"])


def run_file(path: Path, base_url: str) -> int:
    """Run every step of one file in order; returns how many ran. Raises
    AssertionError at the first step the server fails."""
    spec = load(path)
    ctx = Context()
    defaults = spec.get("defaults") or {}
    with httpx.Client(base_url=base_url, timeout=60.0) as client:
        for number, step in enumerate(spec["tests"], 1):
            run_step(client, step, defaults, ctx, f"{path.name} step {number}")
    return len(spec["tests"])
