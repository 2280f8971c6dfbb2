"""``berthing serve`` configuration: a TOML file, then environment, then flags.

Unknown keys are an error that names the key; so is a server that would listen
beyond loopback with the development identity (``noauth2``) or without tokens.
The default file is ``berthing.toml`` in the user's config directory
(``platformdirs``), or the path in ``BERTHING_CONFIG``.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Literal

import msgspec
from platformdirs import user_config_dir

from berthing.api.auth import Authenticator, AuthMode, Grant
from berthing.model import InvalidInput

__all__ = ["ServeConfig", "default_config_path", "load_config"]


class ServerSection(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    host: str = "127.0.0.1"
    port: int = 8778
    store: str | None = None
    max_body_bytes: int = 1_048_576
    request_timeout: float = 60.0


class TokenSection(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    secret: str
    roles: list[str]
    project: str = ""
    user: str = ""


class AuthSection(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    mode: AuthMode = AuthMode.NOAUTH2
    tokens: dict[str, TokenSection] = {}


class PolicySection(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    defaults: str = "legacy"
    file: str | None = None


class CorsSection(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    allow_origins: list[str] = []


class PlacementSection(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    randomize_candidates: bool = True
    candidate_seed: int | None = None


class CellSection(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    name: str = "cell1"
    conductors: int = 1
    """Conductor processes (each with its scheduler); 0 runs the APIs only."""
    simulate_hosts: int = 0
    """Simulated hosts that build what they are given: a cloud to try on a laptop."""
    reap_every: float = 10.0
    scheduler_config: str | None = None


class LogSection(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """The server's logs, to stderr: every line carries its request id."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["text", "json"] = "text"


class ClientSection(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    """What the operator's commands (``berthing server ...``) use on this machine when no
    flag or environment variable says otherwise."""

    url: str | None = None
    """Default: the [server] address."""
    token: str | None = None
    """Default: with noauth2, the development token ``admin``."""


class ServeConfig(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    server: ServerSection = ServerSection()
    cell: CellSection = CellSection()
    auth: AuthSection = AuthSection()
    policy: PolicySection = PolicySection()
    cors: CorsSection = CorsSection()
    placement: PlacementSection = PlacementSection()
    client: ClientSection = ClientSection()
    log: LogSection = LogSection()

    def authenticator(self) -> Authenticator:
        grants = {
            t.secret: Grant(name, frozenset(t.roles), t.project, t.user or name)
            for name, t in self.auth.tokens.items()
        }
        return Authenticator(self.auth.mode, grants)

    def check_exposure(self) -> None:
        """Refuse to serve beyond loopback with the development identity or no tokens."""
        if _loopback(self.server.host):
            return
        if self.auth.mode is AuthMode.NOAUTH2 or not self.auth.tokens:
            why = "noauth2" if self.auth.mode is AuthMode.NOAUTH2 else "no tokens configured"
            raise InvalidInput(
                f"Refusing to listen on {self.server.host} with {why}.",
                hint='Set [auth] mode = "tokens" with [auth.tokens.NAME] entries, '
                "or listen on 127.0.0.1.",
            )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def default_config_path() -> Path:
    return Path(
        os.environ.get("BERTHING_CONFIG") or Path(user_config_dir("berthing")) / "berthing.toml"
    )


def load_config(path: str | Path | None) -> ServeConfig:
    """The file at ``path`` (or the default, if it exists), validated."""
    explicit = path is not None
    path = Path(path) if path is not None else default_config_path()
    if not path.exists():
        if explicit:
            raise InvalidInput(
                f"Config file {path} does not exist.", hint="Check the --config path."
            )
        return ServeConfig()
    try:
        return msgspec.toml.decode(path.read_bytes(), type=ServeConfig)
    except msgspec.ValidationError as exc:
        raise InvalidInput(f"{path}: {exc}.", hint="See docs/serve.md for every key.") from exc
    except (msgspec.DecodeError, OSError) as exc:
        raise InvalidInput(f"Cannot read config {path}: {exc}.") from exc
