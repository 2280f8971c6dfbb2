"""``/v1/servers``: boot, list, show, delete, resize. A server is one instance of a
build request; its ``ServerRef`` says which request it is in."""

from __future__ import annotations

import dataclasses

import msgspec

from berthing.api.errors import ApiError
from berthing.api.native.core import Ctx
from berthing.api.native.schemas import (
    BootAccepted,
    BootRequest,
    EventView,
    ResizeRequest,
    ResizeResult,
    ServerList,
    ServerView,
)
from berthing.model import BuildRequest, BuildState, Record, RequestSpec, ServerRef
from berthing.scheduler import load_group, zone_aggregate

__all__ = ["boot", "delete", "list_servers", "request_spec", "resize", "show"]

MAX_PAGE = 1000


def boot(ctx: Ctx, body: BootRequest) -> BootAccepted:
    spec = request_spec(ctx, body)
    _check_references(ctx, spec)
    spec = dataclasses.replace(spec, instance_uuids=spec.uuids())
    key = ctx.conductor.submit(spec, body.name)
    return BootAccepted(key, list(spec.instance_uuids))


def request_spec(ctx: Ctx, body: BootRequest) -> RequestSpec:
    """The request a boot (or an explain) describes, in the caller's project."""
    project = ctx.identity.project_id
    if body.project_id is not None and body.project_id != project:
        if not ctx.admin:
            raise ApiError(
                403, "Only an administrator boots for another project.", "berthing.forbidden"
            )
        project = body.project_id
    return RequestSpec(
        resources=body.resources,
        project_id=project or "default",
        user_id=ctx.identity.user_id,
        num_instances=body.count,
        shared_resources=body.shared_resources,
        required_traits=frozenset(body.required_traits),
        forbidden_traits=frozenset(body.forbidden_traits),
        availability_zone=body.availability_zone,
        server_group=body.server_group,
        same_host=frozenset(body.same_host),
        different_host=frozenset(body.different_host),
    )


def _check_references(ctx: Ctx, spec: RequestSpec) -> None:
    """A zone or group that does not exist is the caller's mistake: say so now (400),
    not later as a failed build."""
    if spec.availability_zone is not None:
        zone_aggregate(ctx.store, spec.availability_zone)
    if spec.server_group is not None:
        load_group(ctx.store, spec.server_group)


def list_servers(ctx: Ctx, _: None) -> ServerList:
    limit = _limit(ctx)
    marker = ctx.query.get("marker", "")
    wanted_project = ctx.query.get("project_id") if ctx.admin else ctx.identity.project_id
    refs = [
        r
        for r in ctx.store.list_records(ServerRef)
        if r.key > marker and (wanted_project is None or r.value.project_id == wanted_project)
    ]
    requests = ctx.store.get_records(BuildRequest, {r.value.request for r in refs})
    views = []
    for ref in refs:
        view = _view(ref, requests.get(ref.value.request))
        if _selected(ctx, view):
            views.append(view)
            if len(views) > limit:
                break
    more = len(views) > limit
    views = views[:limit]
    return ServerList(views, views[-1].uuid if more else None)


def _limit(ctx: Ctx) -> int:
    raw = ctx.query.get("limit", "100")
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
        raise ApiError(
            400, f"limit must be 1 to {MAX_PAGE}, got {raw!r}.", "berthing.invalid_input"
        )
    return int(raw)


def _selected(ctx: Ctx, view: ServerView) -> bool:
    state = ctx.query.get("state")
    host = ctx.query.get("host")
    if state is None and view.state == "DELETED":
        return False  # deleted servers show only when asked for
    return (state is None or view.state == state.upper()) and (
        host is None or host in (view.host, view.host_name)
    )


def show(ctx: Ctx, _: None) -> ServerView:
    ref = _ref(ctx)
    return _view(ref, ctx.store.get_record(BuildRequest, ref.value.request))


def delete(ctx: Ctx, _: None) -> None:
    ref = _ref(ctx)
    view = _view(ref, ctx.store.get_record(BuildRequest, ref.value.request))
    if view.state in ("PENDING", "SCHEDULING", "SCHEDULED"):
        raise ApiError(
            409,
            f"Server {ref.key} is still being scheduled; delete it once it builds.",
            "berthing.conflict",
        )
    if view.state != "DELETED":
        ctx.conductor.delete(ref.key, ref.value.request)


def resize(ctx: Ctx, body: ResizeRequest) -> ResizeResult:
    ref = _ref(ctx)
    return ResizeResult(ref.key, ctx.conductor.resize(ref.key, body.resources))


def _ref(ctx: Ctx) -> Record[ServerRef]:
    ref = ctx.store.get_record(ServerRef, ctx.params["uuid"])
    if ref is None or not ctx.may_see(ref.value.project_id):
        raise ApiError(404, f"No server {ctx.params['uuid']}.", "berthing.not_found")
    return ref


def _view(ref: Record[ServerRef], request: Record[BuildRequest] | None) -> ServerView:
    uuid, r = ref.key, ref.value
    known = ServerView(
        uuid, r.name, r.project_id, r.user_id, "UNKNOWN", None, None, {}, 0, "", r.request,
        r.created, [],
    )  # fmt: skip
    if request is None:
        return known
    build = request.value
    planned = build.instances.get(uuid)
    events = [
        EventView(e.at, e.what, e.host, e.detail) for e in build.events if e.instance in ("", uuid)
    ]
    if planned is None:
        state = build.state.value if build.state is not BuildState.ACTIVE else "UNKNOWN"
        return msgspec.structs.replace(known, state=state, error=build.error, events=events)
    state = planned.step.value
    if state == "BUILDING" and not planned.dispatched:
        state = "SCHEDULED"
    return msgspec.structs.replace(
        known,
        state=state,
        host=planned.host,
        host_name=planned.host_name,
        allocations={p: dict(per) for p, per in planned.allocations.items()},
        attempts=planned.attempts,
        error=planned.error,
        events=events,
    )
