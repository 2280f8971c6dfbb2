"""The compute agent: registers its host and builds what the store says it must."""

from berthing.agent.agent import HEARTBEAT, INSTANCE, Agent, Builder, InstanceState, instance_key
from berthing.agent.fleet import Fleet
from berthing.agent.host import HostDescription

__all__ = [
    "HEARTBEAT",
    "INSTANCE",
    "Agent",
    "Builder",
    "Fleet",
    "HostDescription",
    "InstanceState",
    "instance_key",
]
