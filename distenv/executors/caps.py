"""CPU, memory and swap caps: whether the process-per-task executor may start another process.

pypet's semantics: while the CPU use (averaged over all cores), the RAM use (optionally plus
the expected memory of one more process) or the swap use is above its cap, no new process
starts, except that at least one always runs. A warning is logged once when a cap becomes
crossed, and again only after it recovered and is crossed anew.
"""

from __future__ import annotations

import logging
import time

import psutil

from distenv.executors.options import validate_cap, validate_memory_cap

logger = logging.getLogger("distenv.executors.caps")


class CapMonitor:
    """Samples psutil at most every ``sample_interval`` seconds and compares with the caps.

    Parameters
    ----------
    cpu_cap, swap_cap
        Percent in (0, 100]; 100 disables the cap.
    memory_cap
        Percent in (0, 100], or ``(percent, memory_per_process_MB)``: a new process must fit
        below the cap together with its expected memory.
    sample_interval
        Seconds between two readings (CPU use is measured over that interval).

    Raises
    ------
    ConfigurationError
        A cap outside (0, 100] or a malformed tuple.
    """

    def __init__(self, cpu_cap: float = 100.0, memory_cap: float | tuple = 100.0,
                 swap_cap: float = 100.0, sample_interval: float = 0.1):
        self.cpu_cap = validate_cap("cpu_cap", cpu_cap)
        self.memory_cap, self.memory_per_process_mb = validate_memory_cap(memory_cap)
        self.swap_cap = validate_cap("swap_cap", swap_cap)
        self.sample_interval = sample_interval
        self.enabled = (self.cpu_cap < 100.0 or self.memory_cap < 100.0
                        or self.memory_per_process_mb > 0 or self.swap_cap < 100.0)
        self._crossed: dict[str, str] = {}
        self._sampled_at = float("-inf")
        self._cpu_times = psutil.cpu_times() if self.cpu_cap < 100.0 else None
        self._cpu_percent = 0.0

    def _cpu_use(self) -> float:
        """Percent of all cores busy since the previous reading."""
        now = psutil.cpu_times()
        before, self._cpu_times = self._cpu_times, now
        total = sum(now) - sum(before)
        idle = (now.idle - before.idle) + (getattr(now, "iowait", 0.0)
                                           - getattr(before, "iowait", 0.0))
        if total > 0:
            self._cpu_percent = max(0.0, min(100.0, 100.0 * (1.0 - idle / total)))
        return self._cpu_percent

    def readings(self) -> dict[str, tuple[float, float, str]]:
        """``{cap name: (value, cap, description)}`` for the enabled caps, read now."""
        found: dict[str, tuple[float, float, str]] = {}
        if self.cpu_cap < 100.0:
            value = self._cpu_use()
            found["cpu_cap"] = (value, self.cpu_cap, f"CPU use is {value:.1f} %")
        if self.memory_cap < 100.0 or self.memory_per_process_mb > 0:
            memory = psutil.virtual_memory()
            extra = self.memory_per_process_mb * 2**20 / memory.total * 100.0
            value = memory.percent + extra
            detail = (f" including {self.memory_per_process_mb:g} MB for one more process"
                      if extra else "")
            found["memory_cap"] = (value, self.memory_cap, f"memory use is {value:.1f} %{detail}")
        if self.swap_cap < 100.0:
            value = psutil.swap_memory().percent
            found["swap_cap"] = (value, self.swap_cap, f"swap use is {value:.1f} %")
        return found

    def crossed(self, running: int) -> list[str]:
        """Names of the caps crossed now (re-read at most every ``sample_interval``).

        Logs a warning for each cap that was not crossed at the previous reading.
        """
        if not self.enabled:
            return []
        now = time.monotonic()
        if now - self._sampled_at < self.sample_interval:
            return list(self._crossed)
        self._sampled_at = now
        crossed = {name: text for name, (value, cap, text) in self.readings().items()
                   if value > cap}
        for name, text in crossed.items():
            if name not in self._crossed:
                cap = getattr(self, name)
                logger.warning("%s=%g is crossed (%s): no new process starts until it is "
                               "back below the cap; %d running", name, cap, text, running)
        self._crossed = crossed
        return list(crossed)
