"""The one place errors become HTTP: a status, a title, a detail and a stable code.

Everything a handler raises ends here: berthing's own exception tree (``model.errors``,
whose classes carry an ``http_status`` and a code) and ``ApiError`` for what only the
HTTP layer can get wrong (a bad query string, a body of the wrong shape, a version
too low for a route). Placement clients branch on a handful of codes
(``placement.concurrent_update``, ``placement.inventory.inuse``...); every other
berthing code is reported to them as ``placement.undefined_code``, as Placement does.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus

from berthing.model import BerthingError

__all__ = ["PLACEMENT_CODES", "UNDEFINED", "ApiError", "HttpError", "to_http"]

UNDEFINED = "placement.undefined_code"
#: The codes Placement itself defines; a berthing code outside this set is UNDEFINED.
PLACEMENT_CODES = frozenset(
    {
        UNDEFINED,
        "placement.concurrent_update",
        "placement.duplicate_name",
        "placement.inventory.inuse",
        "placement.resource_provider.inuse",
        "placement.resource_provider.cannot_delete_parent",
        "placement.resource_provider.not_found",
        "placement.query.duplicate_key",
        "placement.query.bad_value",
        "placement.query.missing_value",
    }
)


class ApiError(Exception):
    """An error of the HTTP layer itself, with its status and (Placement) code."""

    def __init__(
        self, status: int, detail: str, code: str = UNDEFINED, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code
        self.headers = headers or {}


@dataclass(frozen=True, slots=True)
class HttpError:
    status: int
    title: str
    detail: str
    code: str
    headers: dict[str, str]


def to_http(exc: BaseException, *, placement: bool) -> HttpError | None:
    """The HTTP form of ``exc``; None for an exception that is a bug (a 500, logged)."""
    if isinstance(exc, ApiError):
        return _error(exc.status, exc.detail, exc.code, exc.headers)
    if isinstance(exc, BerthingError):
        code = exc.code
        if placement and code not in PLACEMENT_CODES:
            code = UNDEFINED
        return _error(exc.http_status, str(exc), code, {})
    return None


def _error(status: int, detail: str, code: str, headers: dict[str, str]) -> HttpError:
    return HttpError(status, HTTPStatus(status).phrase, detail, code, headers)
