"""``terminate()``: idle workers exit normally (their finalizers run), busy ones are killed.

Workers of the LOCK/NONE storage modes flush their journals in a
:class:`multiprocessing.util.Finalize` at a normal exit, so a worker with no task in flight is
asked to exit and given ``exit_grace`` seconds before it is killed; a worker running a task is
killed at once. Each worker here registers a finalizer (in its initializer) that writes a
marker file named by its pid: the marker exists only if the worker exited normally.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing.util
import os
import time
from pathlib import Path

import psutil
import pytest

from distenv.errors import WorkerDiedError
from distenv.executors import get_executor_class

from . import jobs

pytestmark = pytest.mark.timeout(120)

#: A loose bound for "terminate did not hang" (the grace period is a few seconds).
NO_HANG_SECONDS = 30


def write_marker(folder: str, delay: float) -> None:
    time.sleep(delay)
    Path(folder, "exited-%d" % os.getpid()).write_text("finalizers ran")


def register_exit_marker(folder: str, delay: float = 0.0) -> None:
    """Initializer: at a normal exit of this worker, wait ``delay`` s, then write a marker."""
    multiprocessing.util.Finalize(None, write_marker, args=(folder, delay), exitpriority=100)


def exited_normally(folder: Path, pid: int) -> bool:
    return (folder / ("exited-%d" % pid)).exists()


def own_pid() -> int:
    return os.getpid()


def wait_for_file(path: Path, seconds: float = 60) -> int:
    """Wait until ``path`` exists; return the pid written in it."""
    deadline = time.monotonic() + seconds
    while not path.exists() or not path.read_text():
        assert time.monotonic() < deadline, "%s was never written" % path
        time.sleep(0.01)
    return int(path.read_text())


def assert_gone(pid: int) -> None:
    try:
        process = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    assert process.status() == psutil.STATUS_ZOMBIE, "process %d is still alive" % pid


def timed_terminate(executor) -> float:
    started = time.monotonic()
    executor.terminate()
    elapsed = time.monotonic() - started
    assert elapsed < NO_HANG_SECONDS, "terminate took %.1f s" % elapsed
    return elapsed


def test_pool_idle_worker_exits_normally_and_busy_worker_is_killed(tmp_path,
                                                                   no_leftover_processes):
    executor = get_executor_class("pool")(ncores=2, initializer=register_exit_marker,
                                          initargs=(str(tmp_path),))
    blocking_pid_file = tmp_path / "blocking"
    blocking = executor.submit(jobs.write_pid_and_sleep, str(blocking_pid_file), 60)
    busy_pid = wait_for_file(blocking_pid_file)
    idle_pid = executor.submit(own_pid).result(timeout=60)  # the other worker: it is idle now
    assert idle_pid != busy_pid

    timed_terminate(executor)

    assert exited_normally(tmp_path, idle_pid)  # asked to exit: its finalizers ran
    assert not exited_normally(tmp_path, busy_pid)  # killed at once
    with pytest.raises(WorkerDiedError, match="terminated"):
        blocking.result(timeout=0)
    assert_gone(busy_pid)
    assert_gone(idle_pid)


def test_pool_pending_tasks_are_cancelled(tmp_path, no_leftover_processes):
    executor = get_executor_class("pool")(ncores=1)
    pid_file = tmp_path / "blocking"
    futures = [executor.submit(jobs.write_pid_and_sleep, str(pid_file), 60)]
    wait_for_file(pid_file)
    futures += [executor.submit(own_pid) for _ in range(4)]
    timed_terminate(executor)
    assert all(future.done() for future in futures)
    with pytest.raises(WorkerDiedError):
        futures[0].result(timeout=0)
    for future in futures[1:]:  # queued in the worker's pipe (so "running") or never sent
        with pytest.raises((concurrent.futures.CancelledError, WorkerDiedError)):
            future.result(timeout=0)
    with pytest.raises(RuntimeError, match="after shutdown"):
        executor.submit(own_pid)


def test_pool_idle_worker_that_does_not_exit_is_killed_after_the_grace(tmp_path,
                                                                        no_leftover_processes):
    executor = get_executor_class("pool")(ncores=2, initializer=register_exit_marker,
                                          initargs=(str(tmp_path), 600))
    executor.exit_grace = 1.0
    pids = {future.result(timeout=60) for future in [executor.submit(own_pid)
                                                      for _ in range(4)]}
    timed_terminate(executor)  # their finalizers sleep for 10 minutes
    for pid in pids:
        assert not exited_normally(tmp_path, pid)
        assert_gone(pid)


def test_process_task_that_delivered_its_result_finishes_its_exit(tmp_path,
                                                                  no_leftover_processes):
    """There are no idle workers with one process per task; a process that has sent its
    result is exiting on its own and may run its finalizers; a running task's is killed."""
    executor = get_executor_class("process")(ncores=2, initializer=register_exit_marker,
                                             initargs=(str(tmp_path), 0.5))
    blocking_pid_file = tmp_path / "blocking"
    blocking = executor.submit(jobs.write_pid_and_sleep, str(blocking_pid_file), 60)
    busy_pid = wait_for_file(blocking_pid_file)
    done_pid = executor.submit(own_pid).result(timeout=60)  # its finalizer still sleeps

    timed_terminate(executor)

    assert exited_normally(tmp_path, done_pid)
    assert not exited_normally(tmp_path, busy_pid)
    with pytest.raises(WorkerDiedError, match="terminated"):
        blocking.result(timeout=0)
    assert_gone(busy_pid)


@pytest.mark.parametrize("backend", ["pool", "process"])
def test_terminate_twice_and_after_shutdown_returns(backend, no_leftover_processes):
    executor = get_executor_class(backend)(ncores=2)
    assert executor.submit(own_pid).result(timeout=60)
    timed_terminate(executor)
    timed_terminate(executor)
    executor.shutdown()
