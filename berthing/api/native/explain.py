"""``POST /v1/explain``: would this request fit, where, and if not, why."""

from __future__ import annotations

from berthing.api.native.core import Ctx
from berthing.api.native.schemas import BootRequest, Explanation
from berthing.api.native.servers import request_spec

__all__ = ["explain"]


def explain(ctx: Ctx, body: BootRequest) -> Explanation:
    result = ctx.scheduler.explain(request_spec(ctx, body))
    return Explanation(
        fits=result.fits,
        summary=result.summary,
        hosts=result.hosts,
        rejected=dict(result.rejected.most_common()),
        destinations=list(result.destinations),
        reasons=list(result.reasons),
    )
