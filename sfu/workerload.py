"""What one worker publishes about its own load in its heartbeat (docs/redis.md): CPU used by the
process over the last interval, and rates of the forwarding counters (frames per second).

Pure: the caller passes `now` and the process CPU time, so tests are deterministic.
"""

from __future__ import annotations


class CpuMeter:
    """Fraction of one core used by this process between two samples (1.0 = one full core)."""

    def __init__(self, now: float, cpu_seconds: float) -> None:
        self._last_now = now
        self._last_cpu = cpu_seconds
        self.value = 0.0

    def sample(self, now: float, cpu_seconds: float) -> float:
        elapsed = now - self._last_now
        if elapsed > 0:
            self.value = max(0.0, (cpu_seconds - self._last_cpu) / elapsed)
            self._last_now, self._last_cpu = now, cpu_seconds
        return self.value


class RateMeter:
    """Per-second rate of a counter that only grows (e.g. frames forwarded, sfu/metrics.py)."""

    def __init__(self, now: float, total: int) -> None:
        self._last_now = now
        self._last_total = total
        self.value = 0.0

    def sample(self, now: float, total: int) -> float:
        elapsed = now - self._last_now
        if elapsed > 0:
            self.value = max(0, total - self._last_total) / elapsed
            self._last_now, self._last_total = now, total
        return self.value
