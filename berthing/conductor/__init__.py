"""The conductor: drives build requests from API through scheduler to host."""

from berthing.conductor.conductor import Conductor, ConductorStats

__all__ = ["Conductor", "ConductorStats"]
