"""What only the ``pool`` backend does: pickling checks, worker replacement, chunking."""

from __future__ import annotations

import concurrent.futures
import os
import signal
import time

import pytest

from distenv.errors import ConfigurationError, RunFailedError, WorkerDiedError
from distenv.executors import SharedArguments, get_executor_class

from . import jobs
from .conftest import child_pids
from .test_conformance import wait_for_pid_file

pytestmark = pytest.mark.timeout(120)

PoolExecutor = get_executor_class("pool")


def test_unpicklable_job_fails_before_any_process(no_leftover_processes):
    before = child_pids()
    with PoolExecutor(ncores=2) as pool:
        with pytest.raises(ConfigurationError, match="use_pool=False") as caught:
            pool.submit(lambda: 1)
        assert "picklable" in str(caught.value)
        with pytest.raises(ConfigurationError, match="use_pool=False"):
            pool.map(lambda value: value, range(3))
        with pytest.raises(ConfigurationError, match="use_pool=False"):
            pool.submit(jobs.square, (lambda: 1))
        assert child_pids() == before


def test_unpicklable_argument_later_in_a_map(no_leftover_processes):
    arguments = [(1,), (2,), (lambda: 3,), (4,)]
    with PoolExecutor(ncores=2) as pool:
        outcomes = list(pool.imap_outcomes(jobs.square, arguments))
    assert [outcome.ok for outcome in outcomes] == [True, True, False, True]
    assert isinstance(outcomes[2].error.__cause__, Exception)
    assert "use_pool=False" in str(outcomes[2].error)


def test_frozen_job_may_hold_unpicklable_data(no_leftover_processes):
    with PoolExecutor(ncores=2) as pool:
        handle = pool.freeze(jobs.add, 10)
        local = pool.freeze(lambda index: index * 3)  # a lambda: inherited, never pickled
        assert list(pool.map(handle, range(5))) == [10, 11, 12, 13, 14]
        assert pool.submit(local, 4).result(timeout=60) == 12


def test_a_frozen_call_is_called_directly_in_the_worker_loop():
    import functools
    from distenv.executors import frozen
    handle = frozen.freeze("test-direct", jobs.add, (10,), {"right": 5})
    try:
        direct = handle.direct()
        assert isinstance(direct, functools.partial) and direct() == handle() == 15
    finally:
        frozen.release("test-direct")
    with pytest.raises(RuntimeError, match="not available in this process"):
        frozen.FrozenCall("nobody:1").direct()


def test_freeze_after_workers_started(no_leftover_processes):
    with PoolExecutor(ncores=2) as pool:
        assert pool.submit(jobs.square, 2).result(timeout=60) == 4
        handle = pool.freeze(jobs.add, 100)
        assert sorted(pool.map(handle, range(20))) == [100 + v for v in range(20)]
        with pytest.raises(ConfigurationError, match="before the first submission"):
            pool.freeze(jobs.use_payload, jobs.PicklingForbidden())


def test_dead_worker_is_replaced(no_leftover_processes):
    before = child_pids()
    with PoolExecutor(ncores=2) as pool:
        first = set(pool.map(jobs.process_id, range(50)))
        with pytest.raises(WorkerDiedError):
            pool.submit(jobs.exit_hard, 1).result(timeout=60)
        after = [pool.submit_task(jobs.process_id, task_id=i) for i in range(20)]
        assert len({future.result(timeout=60) for future in after}) >= 1
        assert len(child_pids() - before) == 2
        assert len(first) <= 2


def test_tasks_not_started_on_a_dead_worker_run_elsewhere(no_leftover_processes):
    values = list(range(3000))
    with PoolExecutor(ncores=2, chunksize=500) as pool:
        outcomes = list(pool.imap_outcomes(jobs.kill_self_on, [(v, 1234) for v in values]))
    failed = [outcome.task_id for outcome in outcomes if not outcome.ok]
    assert failed == [1234]
    assert [outcome.value for outcome in outcomes if outcome.ok] == [
        value for value in values if value != 1234]


def test_shared_arguments_travel_as_one_object_and_survive_a_dead_worker(
        no_leftover_processes):
    """Tasks that differ only in their first argument: a piece pickles to a few bytes, and
    the tasks a killed worker had not started run elsewhere, as with a list of tuples."""
    import pickle
    arguments = SharedArguments(range(3000), (1234,))
    assert len(pickle.dumps(arguments[:2000])) < 200  # a range and the shared tail
    assert arguments[5] == (5, 1234) and list(arguments[2:4]) == [(2, 1234), (3, 1234)]
    with PoolExecutor(ncores=2, chunksize=500) as pool:
        outcomes = list(pool.imap_outcomes(jobs.kill_self_on, arguments))
        listed = list(pool.map(jobs.add, range(40), [2] * 40))
        shared = [outcome.value for outcome in
                  pool.imap_outcomes(jobs.add, SharedArguments(list(range(40)), (2,)))]
    assert [outcome.task_id for outcome in outcomes if not outcome.ok] == [1234]
    assert [outcome.value for outcome in outcomes if outcome.ok] == [
        value for value in range(3000) if value != 1234]
    assert shared == listed == [value + 2 for value in range(40)]


def test_failing_initializer_breaks_the_pool_without_hanging(no_leftover_processes, capfd):
    pool = PoolExecutor(ncores=2, initializer=jobs.raise_value_error, initargs=(1,))
    future = pool.submit(jobs.square, 3)
    with pytest.raises(WorkerDiedError, match="before their first task"):
        future.result(timeout=60)
    with pytest.raises(RuntimeError, match="broken"):
        pool.submit(jobs.square, 3)
    pool.shutdown()
    assert "boom 1" in capfd.readouterr().err


def test_failing_initializer_breaks_the_pool_after_no_more_tasks(no_leftover_processes, capfd):
    """Workers that die at start are counted even when nothing more is submitted (a
    retiring worker is not a failure, a dying one is): the pool gives up, it never forks on
    and on."""
    pool = PoolExecutor(ncores=2, initializer=jobs.raise_value_error, initargs=(2,))
    outcomes = pool.imap_outcomes(jobs.square, [(value,) for value in range(10)])
    pool.no_more_tasks()
    errors = [outcome.error for outcome in outcomes]
    assert all(isinstance(error, WorkerDiedError) for error in errors)
    assert "before their first task" in str(errors[0])
    pool.shutdown()
    assert "boom 2" in capfd.readouterr().err


def wait_until_gone(pid: int, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while pid in child_pids():
        assert time.monotonic() < deadline, "worker %d did not exit" % pid
        time.sleep(0.01)


def test_a_worker_with_nothing_left_exits_while_another_runs(no_leftover_processes, tmp_path):
    """After ``no_more_tasks()`` a worker that finished its last piece exits at once (its
    journal flush overlaps the others' last runs); one still running is left alone."""
    pid_file = tmp_path / "long.pid"
    arguments = [(str(pid_file), 3.0)] + [(None, 0.0)] * 6
    with PoolExecutor(ncores=2, chunksize=1) as pool:
        outcomes = pool.imap_outcomes(jobs.pid_or_pid_file, arguments, ordered=False)
        pool.no_more_tasks()
        with pytest.raises(RuntimeError, match="after shutdown"):
            pool.submit(jobs.square, 2)
        long_running = wait_for_pid_file(pid_file)
        # one task waits behind the long one (a worker holds two pieces): the other worker
        # makes the five left, then has nothing to do
        idle = {next(outcomes).value for _ in range(5)}
        assert len(idle) == 1 and long_running not in idle
        wait_until_gone(idle.pop())
        assert long_running in child_pids()  # still on its task
        assert sorted(map(str, (outcome.value for outcome in outcomes))) == sorted(
            [str(long_running), "slept"])


def test_a_task_put_back_after_a_worker_retired_gets_a_new_worker(no_leftover_processes,
                                                                   tmp_path):
    """The other worker retired; the one left dies holding a task it had not started: that
    task runs on a worker forked for it."""
    pid_file = tmp_path / "long.pid"
    arguments = [(str(pid_file), 60.0), (None, 0.0), (None, 0.0), (None, 0.0)]
    with PoolExecutor(ncores=2, chunksize=2) as pool:  # pieces [0, 1] and [2, 3]
        outcomes = pool.imap_outcomes(jobs.pid_or_pid_file, arguments, ordered=False)
        pool.no_more_tasks()
        doomed = wait_for_pid_file(pid_file)
        retired = {next(outcomes).value, next(outcomes).value}
        assert len(retired) == 1 and doomed not in retired
        wait_until_gone(retired.pop())
        os.kill(doomed, signal.SIGKILL)
        rest = {outcome.task_id: outcome for outcome in outcomes}
    assert isinstance(rest[0].error, WorkerDiedError)
    assert rest[1].ok and rest[1].value not in (doomed,)


def test_initializer_runs_in_each_worker(no_leftover_processes):
    with PoolExecutor(ncores=2, initializer=os.environ.__setitem__,
                      initargs=("DISTENV_TEST_INIT", "yes")) as pool:
        seen = pool.submit(os.getenv, "DISTENV_TEST_INIT").result(timeout=60)
    assert seen == "yes"


def test_stop_flag_ends_a_running_chunk_early(no_leftover_processes):
    with PoolExecutor(ncores=2, chunksize=200) as pool:
        outcomes = pool.imap_outcomes(jobs.sleep_then, [(v, 0.01) for v in range(400)])
        next(outcomes)
        pool.stop_submitting()
        rest = list(outcomes)
    cancelled = [o for o in rest if isinstance(o.error, concurrent.futures.CancelledError)]
    assert len(cancelled) > 200  # the chunks in flight stopped, not only the queue


def test_workers_ignore_sigint(no_leftover_processes):
    with PoolExecutor(ncores=2) as pool:
        future = pool.submit(jobs.sleep_then, "done", 0.5)
        time.sleep(0.2)
        for pid in child_pids():
            os.kill(pid, signal.SIGINT)
        assert future.result(timeout=60) == "done"


def test_map_timeout_is_for_the_whole_iteration(no_leftover_processes):
    with PoolExecutor(ncores=2) as pool:
        iterator = pool.map(jobs.sleep_then, [1, 2], [0.0, 5.0], timeout=0.5)
        with pytest.raises(TimeoutError):
            list(iterator)


def test_timed_out_task_is_killed_not_waited_for(no_leftover_processes):
    with PoolExecutor(ncores=1, timeout=0.3) as pool:
        outcomes = list(pool.imap_outcomes(jobs.sleep_then, [(1, 30.0), (2, 0.0)]))
    assert isinstance(outcomes[0].error, RunFailedError)
    assert "was killed" in str(outcomes[0].error)
    assert outcomes[1].value == 2


def test_results_of_a_long_chunk_come_every_flush_interval(no_leftover_processes):
    """Tasks of 5 ms in one chunk of 200 ms or more: their results reach the parent while the
    chunk runs, a message about every ``FLUSH_INTERVAL`` (50 ms), not one message per task
    (each costs the parent CPU the workers need) and not only at the end. Each task returns
    the moment it ended: a message goes when the task that ends ``FLUSH_INTERVAL`` or more
    after the previous message's last one has ended (a few microseconds of the worker's own
    between them; 10 ms of slack)."""
    from distenv.executors.worker import FLUSH_INTERVAL
    tasks = 40
    with PoolExecutor(ncores=1, chunksize=tasks) as pool:
        blocks = list(pool.imap_outcome_blocks(jobs.sleep_then_clock, [(0.005,)] * tasks))
    ends = [outcome.value for block in blocks for outcome in block]
    assert len(ends) == tasks and ends == sorted(ends)
    assert len(blocks) >= 2
    last_of_block = [block[-1].value for block in blocks]
    for previous, current in zip(last_of_block, last_of_block[1:-1]):
        assert current - previous >= FLUSH_INTERVAL - 0.01, [len(block) for block in blocks]
