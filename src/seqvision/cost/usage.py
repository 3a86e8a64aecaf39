"""Time and memory from the operating system: a stopwatch for wall and CPU time that pauses
(validation inside a fit is not training), and the peak memory of the process or the GPU."""

from __future__ import annotations

import resource
import sys
import time


def cpu_seconds() -> float:
    """User + system CPU seconds of this process (every thread) and its finished children: the
    core-seconds it used, so 2 busy cores for 10 s count 20."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def peak_rss_bytes() -> int:
    """The process's peak resident set since it started (``ru_maxrss``: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


class Stopwatch:
    """Wall and CPU seconds while running; ``pause``/``resume`` leave an interval out. ``offset``
    adds what an earlier process of the same run measured (a resumed run)."""

    def __init__(self) -> None:
        self.wall = self.cpu = 0.0
        self._since: tuple[float, float] | None = None

    @property
    def running(self) -> bool:
        return self._since is not None

    def start(self) -> None:
        if self._since is None:
            self._since = (time.perf_counter(), cpu_seconds())

    resume = start

    def pause(self) -> None:
        if self._since is not None:
            wall, cpu = self._since
            self.wall += time.perf_counter() - wall
            self.cpu += cpu_seconds() - cpu
            self._since = None

    def elapsed(self) -> float:
        """Wall seconds so far, the running interval included."""
        return self.wall + (time.perf_counter() - self._since[0] if self._since else 0.0)
