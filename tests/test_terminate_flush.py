"""After a failed run, the runs that pool workers in LOCK/NONE mode buffered are not lost.

Such a worker journals its own runs and acknowledges them in batches (here never before it
exits: ``ack_runs`` and ``ack_seconds`` are large). When a run fails the sweep stops and the
executor terminates: a worker with no run in flight is asked to exit normally, so its journal
flushes in its finalizer and every run it completed is in the file. (Before, every worker was
SIGKILLed and those runs were pending again.)
"""

from __future__ import annotations

import time

import pytest

from distenv import Environment, load_trajectory
from distenv.errors import RunFailedError

pytestmark = pytest.mark.timeout(120)

RUNS = 20
#: The last run fails, slowly: every other run is done (by both workers) when it does.
BAD_RUN = RUNS - 1


def job_failing_last(traj):
    if traj.v_idx == BAD_RUN:
        time.sleep(1.0)
        raise ValueError("run %d is broken" % traj.v_idx)
    traj.f_add_result("scalar", traj.x * 2.0)
    return traj.v_idx


def job_succeeding(traj):
    traj.f_add_result("scalar", traj.x * 2.0)
    return traj.v_idx


def statuses(loaded) -> list[str]:
    return list(loaded.results_frame()["status"])


@pytest.mark.parametrize("mode", ["LOCK", "NONE"])
def test_runs_buffered_by_idle_workers_are_stored_after_a_failure(mode):
    env = Environment("sweep", filename="hdf5/sweep.hdf5", report_progress=False,
                      multiproc=True, ncores=2, use_pool=True, wrap_mode=mode,
                      ack_runs=100_000, ack_seconds=3600.0)
    traj = env.trajectory
    traj.f_add_parameter("x", 0.0)
    traj.f_explore({"x": [float(index) for index in range(RUNS)]})

    started = time.monotonic()
    with pytest.raises(RunFailedError) as info:
        env.run(job_failing_last)
    assert time.monotonic() - started < 60  # no hang (loose)
    assert info.value.run_index == BAD_RUN

    loaded = load_trajectory("sweep", filename="hdf5/sweep.hdf5")
    assert statuses(loaded) == ["completed"] * BAD_RUN + ["failed"]
    scalars = loaded.f_get_from_runs("scalar", fast_access=True)
    assert list(scalars.values()) == [index * 2.0 for index in range(BAD_RUN)]
    in_memory = [env.trajectory.f_get_run_information(index)["status"]
                 for index in range(RUNS)]
    assert in_memory == statuses(loaded)

    results = env.run(job_succeeding)  # only the failed run is made again
    assert results == [(BAD_RUN, BAD_RUN)]
    assert statuses(load_trajectory("sweep", filename="hdf5/sweep.hdf5")) == \
        ["completed"] * RUNS
