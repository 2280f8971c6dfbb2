"""Who is calling: tokens mapped to roles and a project.

Two modes, chosen by configuration:

* ``noauth2`` -- Placement's development convention, for a server on loopback only: the
  token ``admin`` is an administrator; any other token ``user:project`` names its user
  and project; ``X-Roles`` adds roles and ``X-Project-Id`` sets the project.
* ``tokens`` -- the configured tokens, each with roles and a project. Anything else
  is unauthenticated (401).

Secrets are compared by their SHA-256 digests and never logged: an ``Identity``
carries the token's configured name only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["AuthMode", "Authenticator", "Grant", "Identity"]

ADMIN_TOKEN = "admin"


class AuthMode(StrEnum):
    NOAUTH2 = "noauth2"
    TOKENS = "tokens"


@dataclass(frozen=True, slots=True)
class Identity:
    name: str
    """The token's configured name (noauth2: the user): safe to log."""
    user_id: str
    project_id: str
    roles: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


@dataclass(frozen=True, slots=True)
class Grant:
    """What a configured token may do."""

    name: str
    roles: frozenset[str]
    project_id: str = ""
    user_id: str = ""


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


class Authenticator:
    def __init__(self, mode: AuthMode, tokens: Mapping[str, Grant] | None = None) -> None:
        self.mode = mode
        self._grants = {_digest(secret): grant for secret, grant in (tokens or {}).items()}

    def identify(self, headers: Mapping[str, str]) -> Identity | None:
        """The caller of a request with these (lower-case) headers; None: unknown."""
        token = headers.get("x-auth-token")
        if not token:
            return None
        if self.mode is AuthMode.NOAUTH2:
            return _noauth2(token, headers)
        grant = self._grants.get(_digest(token))
        if grant is None:
            return None
        return Identity(grant.name, grant.user_id or grant.name, grant.project_id, grant.roles)


def _noauth2(token: str, headers: Mapping[str, str]) -> Identity:
    user, _, project = token.partition(":")
    roles = {r.strip() for r in headers.get("x-roles", "").split(",") if r.strip()}
    if token == ADMIN_TOKEN:
        roles.add("admin")
    project = headers.get("x-project-id") or project or user
    return Identity(user, user, project, frozenset(roles))
