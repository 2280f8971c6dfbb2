"""``/v1/server-groups`` and ``/v1/availability-zones``."""

from __future__ import annotations

from berthing.api.errors import ApiError
from berthing.api.native.core import Ctx
from berthing.api.native.schemas import GroupCreate, GroupView, ZoneList, ZonePut, ZoneView
from berthing.model import ProviderQuery, Record, ServerGroup, Zone
from berthing.scheduler import create_group, define_zone, load_group

__all__ = ["create", "delete", "delete_zone", "list_groups", "list_zones", "put_zone", "show"]


def _view(rec: Record[ServerGroup]) -> GroupView:
    g = rec.value
    return GroupView(
        rec.key, g.name, g.policy.value, g.max_server_per_host, g.project_id, dict(g.members)
    )


def list_groups(ctx: Ctx, _: None) -> list[GroupView]:
    return [
        _view(r) for r in ctx.store.list_records(ServerGroup) if ctx.may_see(r.value.project_id)
    ]


def create(ctx: Ctx, body: GroupCreate) -> GroupView:
    uuid = create_group(
        ctx.store,
        body.policy,
        body.max_server_per_host,
        name=body.name,
        project_id=ctx.identity.project_id,
    )
    return _view(load_group(ctx.store, uuid))


def show(ctx: Ctx, _: None) -> GroupView:
    return _view(_group(ctx))


def delete(ctx: Ctx, _: None) -> None:
    rec = _group(ctx)
    ctx.store.delete_record(ServerGroup, rec.key, rec.revision)


def _group(ctx: Ctx) -> Record[ServerGroup]:
    rec = ctx.store.get_record(ServerGroup, ctx.params["uuid"])
    if rec is None or not ctx.may_see(rec.value.project_id):
        raise ApiError(404, f"No server group {ctx.params['uuid']}.", "berthing.not_found")
    return rec


def list_zones(ctx: Ctx, _: None) -> ZoneList:
    zones = ctx.store.list_records(Zone)
    return ZoneList([_zone(ctx, z.key, z.value.aggregate) for z in zones])


def put_zone(ctx: Ctx, body: ZonePut) -> ZoneView:
    define_zone(ctx.store, ctx.params["name"], body.aggregate)
    return _zone(ctx, ctx.params["name"], body.aggregate)


def delete_zone(ctx: Ctx, _: None) -> None:
    if not ctx.store.delete_record(Zone, ctx.params["name"]):
        raise ApiError(404, f"No availability zone {ctx.params['name']}.", "berthing.not_found")


def _zone(ctx: Ctx, name: str, aggregate: str) -> ZoneView:
    members = ctx.store.find_providers(ProviderQuery(member_of=(frozenset({aggregate}),)))
    return ZoneView(name, aggregate, sum(1 for m in members if m.provider.parent_uuid is None))
