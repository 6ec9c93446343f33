"""Running a trajectory by hand, the way executors do: the journal protocol of the core."""

from __future__ import annotations

import time
from typing import Any, Callable, Iterable

from distenv.constants import RUN_COMPLETED, RUN_FAILED


def run_sweep(traj: Any, job: Callable[[Any], Any], indices: Iterable[int] | None = None,
              store: bool = True, fail: Callable[[int], bool] | None = None) -> Any:
    """Run ``job(traj)`` for every run index and hand each run to the journal.

    ``traj.f_store()`` is called first (the trajectory must be in its file before runs are
    journaled) and, if ``store``, afterwards to compact the journal into the main file.
    ``fail(index)`` true marks the run failed with an error text.
    """
    if not traj.v_stored:
        traj.f_store()
    journal = traj.v_storage_service.run_journal(traj)
    for index in range(len(traj)) if indices is None else indices:
        traj._set_run(index)
        start = time.time()
        failed = fail is not None and fail(index)
        if not failed:
            job(traj)
        leaves = traj._leave_run()
        journal.store_run(traj, index, leaves, RUN_FAILED if failed else RUN_COMPLETED,
                          start, time.time(), "RuntimeError: run %d failed" % index if failed
                          else "")
    journal.close()
    if store:
        traj.f_store()
    return journal
