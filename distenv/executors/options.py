"""Validation of executor arguments, done once before any process starts.

Every function returns the normalised value or raises
:class:`~distenv.errors.ConfigurationError` naming the argument and the offending value.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

from distenv.errors import ConfigurationError

#: Environment variables that bound the threads of BLAS/OpenMP libraries in a worker.
#: Each is set to ``blas_threads`` in the workers unless the caller's environment sets it.
BLAS_ENV_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
                 "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def validate_ncores(ncores: Any) -> int:
    """Return the number of worker processes; ``0`` asks psutil for the CPU count.

    Raises
    ------
    ConfigurationError
        ``ncores`` is not an int ``>= 0``.
    """
    if not _is_int(ncores) or ncores < 0:
        raise ConfigurationError(
            f"ncores must be an int >= 0 (0 = one per CPU), got {ncores!r}")
    if ncores == 0:
        import psutil
        return psutil.cpu_count(logical=True) or os.cpu_count() or 1
    return ncores


def validate_cap(name: str, value: Any) -> float:
    """Return a cap value (``cpu_cap``, ``swap_cap``) checked to lie in (0, 100]."""
    if not _is_number(value) or math.isnan(value) or not 0.0 < value <= 100.0:
        raise ConfigurationError(f"{name} must be in (0, 100], got {value!r}")
    return float(value)


def validate_memory_cap(value: Any) -> tuple[float, float]:
    """Return ``(cap, memory_per_process_MB)`` from ``memory_cap`` given as a number or tuple.

    Raises
    ------
    ConfigurationError
        The cap is not in (0, 100], the tuple does not have two entries, or the estimate
        is negative.
    """
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ConfigurationError(
                "memory_cap as a tuple must be (cap, memory_per_process_MB), "
                f"got {value!r}")
        cap, per_process = value
        cap = validate_cap("memory_cap", cap)
        if not _is_number(per_process) or math.isnan(per_process) or per_process < 0:
            raise ConfigurationError(
                "memory_cap's memory_per_process_MB must be a number >= 0, "
                f"got {per_process!r} in memory_cap={value!r}")
        return cap, float(per_process)
    return validate_cap("memory_cap", value), 0.0


def validate_niceness(value: Any) -> int | None:
    """Return the niceness (an int, ``None`` = leave the priority alone)."""
    if value is not None and not _is_int(value):
        raise ConfigurationError(f"niceness must be an int or None, got {value!r}")
    return value


def validate_timeout(value: Any, name: str = "timeout") -> float | None:
    """Return a per-task timeout in seconds (``None`` = no limit)."""
    if value is None:
        return None
    if not _is_number(value) or math.isnan(value) or value <= 0:
        raise ConfigurationError(f"{name} must be a number of seconds > 0 or None, "
                                 f"got {value!r}")
    return float(value)


def validate_blas_threads(value: Any) -> int | None:
    """Return the BLAS/OpenMP thread count for workers (``None`` = do not touch)."""
    if value is not None and (not _is_int(value) or value < 1):
        raise ConfigurationError(f"blas_threads must be an int >= 1 or None, got {value!r}")
    return value


def validate_chunksize(value: Any) -> int | None:
    """Return a fixed number of tasks per dispatch (``None`` = adaptive)."""
    if value is not None and (not _is_int(value) or value < 1):
        raise ConfigurationError(f"chunksize must be an int >= 1 or None, got {value!r}")
    return value


@dataclass(frozen=True)
class WorkerSettings:
    """What a worker process applies to itself when it starts.

    Attributes
    ----------
    niceness
        Minimum niceness of the worker (raised to it, never lowered); ``None`` leaves it.
    blas_threads
        Value for the variables of :data:`BLAS_ENV_VARS` the caller did not set;
        ``None`` leaves the environment alone.
    parent_pid
        Process id of the parent; a worker whose parent is gone exits at once.
    """

    niceness: int | None = None
    blas_threads: int | None = 1
    parent_pid: int = 0
