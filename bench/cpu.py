"""CPU time of a process (all its threads) from /proc, in seconds."""

from __future__ import annotations

import os
import time

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int | None = None) -> float:
    """utime + stime of `pid` (default: this process), every thread included.

    Children are not included: the SFU and the load generators are measured one by one.
    """
    with open(f"/proc/{pid or 'self'}/stat") as stat:
        # The command name (field 2) may contain spaces: split after its closing parenthesis.
        fields = stat.read().rsplit(")", 1)[1].split()
    # fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / _CLOCK_TICKS


class CpuMeter:
    """CPU seconds used by one process between `start()` and `stop()`, and as % of one core."""

    def __init__(self, pid: int | None = None) -> None:
        self.pid = pid
        self._cpu_start = 0.0
        self._wall_start = 0.0
        self.cpu_seconds = 0.0
        self.wall_seconds = 0.0

    def start(self) -> None:
        self._cpu_start = process_cpu_seconds(self.pid)
        self._wall_start = time.monotonic()

    def stop(self) -> None:
        self.cpu_seconds = process_cpu_seconds(self.pid) - self._cpu_start
        self.wall_seconds = time.monotonic() - self._wall_start

    @property
    def percent_of_core(self) -> float:
        return 100.0 * self.cpu_seconds / self.wall_seconds if self.wall_seconds else 0.0
