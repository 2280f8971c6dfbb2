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

from berthing.model import AllocationChange, BerthingError, ClaimConflict, ConflictKind

__all__ = [
    "CONCURRENT_UPDATE",
    "INVENTORY_INUSE",
    "PLACEMENT_CODES",
    "PROVIDER_NOT_FOUND",
    "UNDEFINED",
    "ApiError",
    "HttpError",
    "claim_conflict",
    "to_http",
]

UNDEFINED = "placement.undefined_code"
CONCURRENT_UPDATE = "placement.concurrent_update"
INVENTORY_INUSE = "placement.inventory.inuse"
PROVIDER_NOT_FOUND = "placement.resource_provider.not_found"
#: The codes Placement itself defines; a berthing code outside this set is UNDEFINED.
PLACEMENT_CODES = frozenset(
    {
        UNDEFINED,
        CONCURRENT_UPDATE,
        "placement.duplicate_name",
        INVENTORY_INUSE,
        "placement.resource_provider.inuse",
        "placement.resource_provider.cannot_delete_parent",
        PROVIDER_NOT_FOUND,
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


def claim_conflict(conflict: ClaimConflict, change: AllocationChange) -> ApiError:
    """Placement's answer to a write that lost (``store.commit`` returns the conflict as
    a value). Nova tells a lost race (``placement.concurrent_update``, and for consumers
    the words "consumer generation conflict", which it matches) from a request that
    cannot fit (409 with the undefined code)."""
    kind, p, rc = conflict.kind, conflict.provider_uuid, conflict.resource_class
    if kind is ConflictKind.CONSUMER_GENERATION:
        return ApiError(409, f"consumer generation conflict - {conflict.detail}", CONCURRENT_UPDATE)
    if kind is ConflictKind.PROVIDER_GENERATION:
        detail = f"resource provider generation conflict for provider {p}: {conflict.detail}"
        return ApiError(409, detail, CONCURRENT_UPDATE)
    if kind is ConflictKind.PROVIDER_GONE:
        # The reshaper names its providers' inventories: a missing one has its own code.
        code = PROVIDER_NOT_FOUND if p in change.inventories else UNDEFINED
        return ApiError(400, f"Resource provider {p} not found.", code)
    if kind is ConflictKind.NO_INVENTORY and p in change.inventories and not _asks(change, p, rc):
        detail = f"Inventory of {rc} on {p} cannot be removed: {conflict.detail}."
        return ApiError(409, detail, INVENTORY_INUSE)
    return ApiError(409, f"Unable to allocate inventory: {rc} on {p}: {conflict.detail}.")


def _asks(change: AllocationChange, p: str | None, rc: str | None) -> bool:
    """Whether a consumer of ``change`` allocates ``rc`` on ``p`` (rather than holding
    it from before, on an inventory the change removes)."""
    return any(rc in ca.allocations.get(p or "", {}) for ca in change.consumers)
