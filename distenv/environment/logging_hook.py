"""The run-start hook of per-run log files (``$run``/``$set`` in a handler's file name).

:func:`~distenv.environment.worker.execute_run` calls :func:`run_started` when a run starts,
but only while :data:`PER_RUN_HANDLERS` is not empty -- a sweep without per-run log files pays
one truth test of a list per run and nothing else. The handlers (:class:`~distenv.environment.
logging_apply.PerRunHandler`) read the current trajectory from here when a record arrives and
switch files when its run index changed, so files open only for runs that log something.
"""

from __future__ import annotations

from typing import Any

#: Per-run handlers alive in this process (appended/removed by logging_apply).
PER_RUN_HANDLERS: list = []
#: ``[trajectory]`` of the run being made in this process (``[None]`` before the first).
_CURRENT: list = [None]


def run_started(traj: Any) -> None:
    """Called by ``execute_run`` after ``traj._set_run(index)`` (only with per-run handlers)."""
    _CURRENT[0] = traj


def set_trajectory(traj: Any) -> None:
    """The trajectory whose run index names the files (the main process sets its own)."""
    _CURRENT[0] = traj


def current_trajectory() -> Any:
    return _CURRENT[0]
