"""The conductor: drives build requests from API through scheduler to host."""

from berthing.conductor.build_request import BUILD_REQUEST, BuildState, InstanceStep
from berthing.conductor.conductor import Conductor, ConductorStats

__all__ = ["BUILD_REQUEST", "BuildState", "Conductor", "ConductorStats", "InstanceStep"]
