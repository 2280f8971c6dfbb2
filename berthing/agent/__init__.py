"""The compute agent: registers its host and builds what the store says it must."""

from berthing.agent.agent import Agent, Builder
from berthing.agent.host import HostDescription

__all__ = ["Agent", "Builder", "HostDescription"]
