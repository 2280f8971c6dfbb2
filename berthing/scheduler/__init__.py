"""The scheduler pipeline: candidate query -> filters -> weighers -> claim.

``stack.build_stack`` assembles the stages; ``Scheduler`` runs requests through them.
"""

from berthing.scheduler.candidates import CandidateSource, StoreCandidates
from berthing.scheduler.claims import Claim, ClaimStrategy, StoreClaims
from berthing.scheduler.config import SchedulerConfig, load_config
from berthing.scheduler.context import Context
from berthing.scheduler.explain import Explanation, NoValidHost
from berthing.scheduler.groups import (
    create_group,
    define_zone,
    leave_group,
    load_group,
    zone_aggregate,
)
from berthing.scheduler.metrics import LatencyHistogram, SchedulerMetrics
from berthing.scheduler.pipeline import Scheduler, Selection
from berthing.scheduler.reasons import Reason

__all__ = [
    "CandidateSource",
    "Claim",
    "ClaimStrategy",
    "Context",
    "Explanation",
    "LatencyHistogram",
    "NoValidHost",
    "Reason",
    "Scheduler",
    "SchedulerConfig",
    "SchedulerMetrics",
    "Selection",
    "StoreCandidates",
    "StoreClaims",
    "create_group",
    "define_zone",
    "leave_group",
    "load_config",
    "load_group",
    "zone_aggregate",
]
