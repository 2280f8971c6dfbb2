"""Every route of the native API (``/v1``), with the role it needs and its types: the
server dispatches from this table and the OpenAPI document is generated from it."""

from __future__ import annotations

from berthing.api.http import Route
from berthing.api.native import explain, groups, hosts, servers
from berthing.api.native.core import Op, Role
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

__all__ = ["ROUTES"]

R, M, A = Role.READER, Role.MEMBER, Role.ADMIN

ROUTES: list[Route[Op]] = [
    Route(
        "/v1/servers",
        {
            "GET": Op(
                servers.list_servers,
                R,
                "List servers (filters: state, host, project_id; limit, marker)",
                response=ServerList,
            ),
            "POST": Op(servers.boot, M, "Boot servers", BootRequest, BootAccepted, 202),
        },
    ),
    Route(
        "/v1/servers/{uuid}",
        {
            "GET": Op(
                servers.show,
                R,
                "Show a server: state, host, allocations, events",
                response=ServerView,
            ),
            "DELETE": Op(servers.delete, M, "Delete a server", status=202),
        },
    ),
    Route(
        "/v1/servers/{uuid}/resize",
        {
            "POST": Op(
                servers.resize,
                M,
                "Resize a server, in place or by moving it",
                ResizeRequest,
                ResizeResult,
            )
        },
    ),
    Route(
        "/v1/hosts",
        {
            "GET": Op(
                hosts.list_hosts, R, "List hosts with capacity, usage and state", response=HostList
            )
        },
    ),
    Route(
        "/v1/hosts/{host}",
        {"GET": Op(hosts.show, R, "Show a host (by uuid or name)", response=HostView)},
    ),
    Route(
        "/v1/hosts/{host}/disable",
        {"POST": Op(hosts.disable, A, "Disable a host, with a reason", DisableRequest, HostView)},
    ),
    Route(
        "/v1/hosts/{host}/enable", {"POST": Op(hosts.enable, A, "Enable a host", response=HostView)}
    ),
    Route(
        "/v1/server-groups",
        {
            "GET": Op(groups.list_groups, R, "List server groups", response=list[GroupView]),
            "POST": Op(groups.create, M, "Create a server group", GroupCreate, GroupView, 201),
        },
    ),
    Route(
        "/v1/server-groups/{uuid}",
        {
            "GET": Op(groups.show, R, "Show a server group", response=GroupView),
            "DELETE": Op(groups.delete, M, "Delete a server group", status=204),
        },
    ),
    Route(
        "/v1/availability-zones",
        {"GET": Op(groups.list_zones, R, "List availability zones", response=ZoneList)},
    ),
    Route(
        "/v1/availability-zones/{name}",
        {
            "PUT": Op(groups.put_zone, A, "Map a zone to an aggregate", ZonePut, ZoneView),
            "DELETE": Op(groups.delete_zone, A, "Delete a zone", status=204),
        },
    ),
    Route(
        "/v1/explain",
        {
            "POST": Op(
                explain.explain,
                R,
                "Dry run: would this fit, where, and if not why",
                BootRequest,
                Explanation,
            )
        },
    ),
]
