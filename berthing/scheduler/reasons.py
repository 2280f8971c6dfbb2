"""Every reason a candidate can be rejected, in one place.

Filters return one of these; the pipeline counts rejections under them, and "why did
nothing fit?" is answered from the counts (``explain``), the metrics and the API.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Reason"]


class Reason(StrEnum):
    IGNORED_HOST = "in the request's ignore list"
    NOT_SAME_HOST = "not a host of the same_host instances"
    DIFFERENT_HOST = "hosts one of the different_host instances"
    GROUP_AFFINITY = "server group affinity: group lives on another host"
    GROUP_ANTI_AFFINITY = "server group anti-affinity: host has max_server_per_host members"
    MAX_INSTANCES = "max_instances_per_host reached"
    MAX_IO_OPS = "max_io_ops_per_host reached"
