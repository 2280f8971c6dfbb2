"""Process plumbing shared by long-running services: stop signals, periodic chores,
liveness, and compare-and-set retries with backoff. Depends on the model only."""

from berthing.runtime.loop import Every, Liveness, StopSignal, stop_on_signals
from berthing.runtime.retry import retry_conflicts

__all__ = ["Every", "Liveness", "StopSignal", "retry_conflicts", "stop_on_signals"]
