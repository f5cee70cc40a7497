"""When one host's pool supervisor should start a worker or drain one (docs/pool.md).

Pure: `decide(now, pool, own)` looks at the load of the whole pool (every worker of every host,
read from Redis by the supervisor) but only ever names this host's workers. Scale up when the
pool's average CPU stays above the high-water mark for `up_after` seconds, scale down (drain the
least-loaded of this host's workers) when it stays below the low-water mark for `down_after`
seconds, never below `min_workers` nor above `max_workers` on this host.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

logger = logging.getLogger(__name__)

HOLD = "hold"
SCALE_UP = "scale_up"
SCALE_DOWN = "scale_down"


@dataclass(frozen=True)
class WorkerLoad:
    """One live worker as its heartbeat hash describes it (docs/redis.md)."""

    worker_id: str
    cpu: float  # fraction of one core
    participants: int = 0
    draining: bool = False


@dataclass(frozen=True)
class Decision:
    action: str  # HOLD, SCALE_UP or SCALE_DOWN
    worker_id: str | None = None  # the worker to drain, for SCALE_DOWN
    reason: str = ""


class Autoscaler:
    def __init__(
        self,
        *,
        min_workers: int,
        max_workers: int,
        high_water: float = 0.7,
        low_water: float = 0.3,
        up_after: float = 30.0,
        down_after: float = 300.0,
    ) -> None:
        if not 0 < min_workers <= max_workers:
            raise ValueError("need 0 < min_workers <= max_workers")
        if not 0 <= low_water < high_water:
            raise ValueError("need 0 <= low_water < high_water")
        self.min_workers = min_workers
        self.max_workers = max_workers
        self.high_water = high_water
        self.low_water = low_water
        self.up_after = up_after
        self.down_after = down_after
        self._above_since: float | None = None
        self._below_since: float | None = None

    def decide(self, now: float, pool: list[WorkerLoad], own: list[str]) -> Decision:
        """`pool`: every live worker of every host; `own`: this host's workers that are running
        and not draining (started ones included, even before their first heartbeat)."""
        serving = [worker for worker in pool if not worker.draining]
        if not serving:
            self._above_since = self._below_since = None
            return Decision(HOLD, reason="no serving worker reports its load")
        total = sum(worker.cpu for worker in serving)
        average = total / len(serving)
        if average > self.high_water:
            self._below_since = None
            if self._above_since is None:
                self._above_since = now
            if len(own) >= self.max_workers:
                return Decision(HOLD, reason=f"cpu {average:.2f} high, host at its maximum")
            if now - self._above_since >= self.up_after:
                self._above_since = now  # another worker needs another full period
                return Decision(SCALE_UP, reason=f"pool cpu {average:.2f} > {self.high_water}")
            return Decision(
                HOLD, reason=f"cpu {average:.2f} high for {now - self._above_since:.0f} s"
            )
        if average < self.low_water:
            self._above_since = None
            if self._below_since is None:
                self._below_since = now
            if len(own) <= self.min_workers:
                return Decision(HOLD, reason=f"cpu {average:.2f} low, host at its minimum")
            # Without one worker, the others must not cross the high-water mark.
            if len(serving) > 1 and total / (len(serving) - 1) >= self.high_water:
                return Decision(HOLD, reason="draining a worker would overload the others")
            candidates = [worker for worker in serving if worker.worker_id in own]
            if not candidates:
                return Decision(HOLD, reason="no worker of this host reports its load yet")
            if now - self._below_since >= self.down_after:
                self._below_since = now
                quietest = min(candidates, key=lambda w: (w.participants, w.cpu, w.worker_id))
                return Decision(
                    SCALE_DOWN,
                    quietest.worker_id,
                    reason=f"pool cpu {average:.2f} < {self.low_water}",
                )
            return Decision(
                HOLD, reason=f"cpu {average:.2f} low for {now - self._below_since:.0f} s"
            )
        self._above_since = self._below_since = None
        return Decision(HOLD, reason=f"cpu {average:.2f} within the water marks")
