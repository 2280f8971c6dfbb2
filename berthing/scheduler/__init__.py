"""The scheduler pipeline: candidate query -> filters -> weighers -> claim."""

from berthing.scheduler.config import SchedulerConfig, load_config
from berthing.scheduler.context import HOST_STATS, HostStats
from berthing.scheduler.explain import NoValidHost
from berthing.scheduler.groups import create_group, define_zone, leave_group
from berthing.scheduler.metrics import SchedulerMetrics
from berthing.scheduler.pipeline import Destination, Scheduler, Selection
from berthing.scheduler.request import GroupPolicy, RequestSpec

__all__ = [
    "HOST_STATS",
    "Destination",
    "GroupPolicy",
    "HostStats",
    "NoValidHost",
    "RequestSpec",
    "Scheduler",
    "SchedulerConfig",
    "SchedulerMetrics",
    "Selection",
    "create_group",
    "define_zone",
    "leave_group",
    "load_config",
]
