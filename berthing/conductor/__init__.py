"""The conductor: drives build requests from API through scheduler to host."""

from berthing.conductor.conductor import Conductor, ConductorStats
from berthing.conductor.hosts import set_disabled

__all__ = ["Conductor", "ConductorStats", "set_disabled"]
