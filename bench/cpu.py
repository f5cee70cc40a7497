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


def main_thread_run_queue_seconds(pid: int | None = None) -> float:
    """Time the process's main thread (the event loop) spent runnable but waiting for a CPU
    (/proc/PID/task/PID/schedstat, second field, ns; 0 where schedstats are not available).

    On a shared machine this says how much of the wall time a process was denied: a loop that
    waits half the time for the CPU answers its ICE consent checks late whatever its own cost.
    """
    pid = pid or os.getpid()
    try:
        with open(f"/proc/{pid}/task/{pid}/schedstat") as schedstat:
            return int(schedstat.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


class CpuMeter:
    """CPU seconds used by one process between `start()` and `stop()`, and as % of one core."""

    def __init__(self, pid: int | None = None) -> None:
        self.pid = pid
        self._cpu_start = 0.0
        self._wall_start = 0.0
        self.cpu_seconds = 0.0
        self.wall_seconds = 0.0
        self._wait_start = 0.0
        self.wait_seconds = 0.0  # the main thread, waiting for a CPU

    def start(self) -> None:
        self._cpu_start = process_cpu_seconds(self.pid)
        self._wait_start = main_thread_run_queue_seconds(self.pid)
        self._wall_start = time.monotonic()

    def stop(self) -> None:
        self.cpu_seconds = process_cpu_seconds(self.pid) - self._cpu_start
        self.wait_seconds = main_thread_run_queue_seconds(self.pid) - self._wait_start
        self.wall_seconds = time.monotonic() - self._wall_start

    @property
    def wait_percent(self) -> float:
        """% of the wall time the main thread was runnable but not running."""
        return 100.0 * self.wait_seconds / self.wall_seconds if self.wall_seconds else 0.0

    @property
    def percent_of_core(self) -> float:
        return 100.0 * self.cpu_seconds / self.wall_seconds if self.wall_seconds else 0.0
